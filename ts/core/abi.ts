/**
 * The contract with the wasm core (crate/src/ffi.rs): export signatures, status codes, and the config word layout
 * read by `Config::from_words` in crate/src/model.rs. tests/abi.test.ts checks both sides agree.
 */

import type { WasmMemory } from './wasm';

/** Must equal `ABI_VERSION` in crate/src/ffi.rs. */
export const ABI_VERSION = 3;

type Ptr = number;

export interface CoreExports {
  memory: WasmMemory;
  vae_abi_version(): number;
  vae_last_status(): number;
  vae_alloc(bytes: number): Ptr;
  vae_free(p: Ptr): number;
  vae_live_allocations(): number;
  vae_heap_used(): number;
  vae_model_new(words: Ptr, n: number): Ptr;
  vae_model_free(m: Ptr): void;
  vae_model_param_count(m: Ptr): number;
  vae_model_params(m: Ptr): Ptr;
  vae_model_grads(m: Ptr): Ptr;
  vae_model_tensor_count(m: Ptr): number;
  vae_model_tensor_info(m: Ptr, i: number, out: Ptr): number;
  vae_model_set_optimizer(m: Ptr, kind: number, lr: number, beta1: number, beta2: number, eps: number,
    momentum: number, weightDecay: number): number;
  vae_model_reset_optimizer(m: Ptr): void;
  vae_model_get_state(m: Ptr, out: Ptr): void;
  vae_model_set_state(m: Ptr, words: Ptr): number;
  vae_model_opt_state(m: Ptr): Ptr;
  vae_model_opt_slots(m: Ptr): number;
  vae_model_step(m: Ptr): number;
  vae_model_reserve(m: Ptr, rows: number, drows: number): number;
  vae_model_shuffle(m: Ptr, perm: Ptr, n: number): void;
  vae_model_train_step(m: Ptr, data: Ptr, dtype: number, idx: Ptr, batch: number, samples: number, klWeight: number,
    warmupSteps: number, step: number, binarize: number, stats: Ptr): number;
  vae_model_loss_grad(m: Ptr, x: Ptr, rows: number, eps: Ptr, samples: number, beta: number, stats: Ptr): number;
  vae_model_evaluate(m: Ptr, data: Ptr, dtype: number, n: number, samples: number, seed: number, useSeed: number,
    perRec: Ptr, perKl: Ptr, stats: Ptr): number;
  vae_model_log_likelihood(m: Ptr, data: Ptr, dtype: number, n: number, k: number, seed: number, useSeed: number,
    outLk: Ptr, outElbo: Ptr): number;
  vae_model_encode(m: Ptr, data: Ptr, dtype: number, n: number, meanOut: Ptr, logVarOut: Ptr): number;
  vae_model_decode(m: Ptr, z: Ptr, n: number, out: Ptr, logits: number): number;
  vae_model_reconstruct(m: Ptr, data: Ptr, dtype: number, n: number, out: Ptr): number;
  vae_model_sample(m: Ptr, n: number, seed: number, useSeed: number, out: Ptr): number;
  vae_gemm(op: number, m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr,
    ldc: number, accumulate: number, scalar: number): number;
  vae_math(f: number, x: Ptr, out: Ptr, n: number, scalar: number): number;
  vae_kernel_twin(id: number, n: number, a: Ptr, b: Ptr, out: Ptr, scalar: number): number;
  vae_peak(iters: number): number;
  vae_thread_control(): Ptr;
  vae_threads_available(): number;
  vae_threads_register(workers: number): number;
  vae_threads_shutdown(): void;
  vae_thread_work(id: number, seen: number, spins: number): number;
  vae_model_set_threads(m: Ptr, threads: number): void;
  vae_threads_inject_fault(id: number): void;
}

export const Status = {
  OK: 0,
  BAD_CONFIG: 1,
  OUT_OF_MEMORY: 2,
  NON_FINITE: 3,
  BAD_ARGUMENT: 4,
  NO_OPTIMIZER: 5,
  WORKER_FAILED: 6,
} as const;

export function statusMessage(code: number): string {
  switch (code) {
    case Status.BAD_CONFIG: return 'the core rejected the model configuration';
    case Status.OUT_OF_MEMORY: return 'out of WebAssembly memory (the 4 GiB address space is exhausted)';
    case Status.NON_FINITE: return 'the loss or a gradient became NaN or infinite';
    case Status.BAD_ARGUMENT: return 'the core rejected an argument';
    case Status.NO_OPTIMIZER: return 'no optimizer is set';
    case Status.WORKER_FAILED: return 'a worker thread failed';
    default: return `unknown core status ${code}`;
  }
}

/** Words in a training-state record (`STATE_WORDS` in crate/src/ffi.rs). */
export const STATE_WORDS = 15;

/** Data element types understood by the core. */
export const DType = { U8: 0, F32: 1 } as const;

export const KIND = { vae: 0, autoencoder: 1 } as const;
export const RECON = { bernoulli: 0, gaussian: 1, gaussianLearned: 2, squaredError: 3 } as const;
export const ACTIVATION = { relu: 0, leakyRelu: 1, tanh: 2, sigmoid: 3, softplus: 4, linear: 5 } as const;
export const INIT = { 'lecun-uniform': 0, 'glorot-uniform': 1, normal: 2 } as const;
export const OPTIMIZER = { sgd: 0, adam: 1, adagrad: 2 } as const;
export const GEMM_OP = { NN: 0, NT: 1, TN: 2 } as const;
export const MATH_FN = { exp: 0, ln: 1, sigmoid: 2, softplus: 3, tanh: 4, log1p: 5 } as const;
/** Maximum hidden layers per side (`MAX_HIDDEN` in crate/src/model.rs). */
export const MAX_HIDDEN = 8;

/** Tensor roles as returned by `vae_model_tensor_info` (`Role` in crate/src/model.rs). */
export const ROLE_NAMES = [
  (i: number) => `encoder.${i}.weight`,
  (i: number) => `encoder.${i}.bias`,
  () => 'encoder.mean.weight',
  () => 'encoder.mean.bias',
  () => 'encoder.logVar.weight',
  () => 'encoder.logVar.bias',
  () => 'encoder.code.weight',
  () => 'encoder.code.bias',
  (i: number) => `decoder.${i}.weight`,
  (i: number) => `decoder.${i}.bias`,
  () => 'decoder.out.weight',
  () => 'decoder.out.bias',
  () => 'decoder.logVar',
] as const;

export interface CoreConfig {
  kind: keyof typeof KIND;
  recon: keyof typeof RECON;
  activation: keyof typeof ACTIVATION;
  leakySlope: number;
  variance: number;
  init: keyof typeof INIT;
  initStd: number;
  seed: number;
  inputDim: number;
  latentDim: number;
  encoder: number[];
  decoder: number[];
}

/** Encodes a config as the u32 words `Config::from_words` reads. */
export function configWords(c: CoreConfig): Uint32Array {
  const words = new Uint32Array(12 + c.encoder.length + c.decoder.length);
  const f = new Float32Array(1);
  const bits = (x: number): number => { f[0] = x; return new Uint32Array(f.buffer)[0]!; };
  words.set([
    KIND[c.kind], RECON[c.recon], ACTIVATION[c.activation], bits(c.leakySlope), bits(c.variance), INIT[c.init],
    bits(c.initStd), c.seed >>> 0, c.inputDim, c.latentDim, c.encoder.length, c.decoder.length,
  ]);
  words.set(c.encoder, 12);
  words.set(c.decoder, 12 + c.encoder.length);
  return words;
}
