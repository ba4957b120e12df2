/**
 * The contract with the wasm core (crate/src/ffi.rs): export signatures, status codes, and the model descriptor
 * compiled by `Plan::compile` in crate/src/plan.rs (its layout is documented there). tests/abi.test.ts checks both
 * sides agree.
 */

import type { WasmMemory } from './wasm';

/** Must equal `ABI_VERSION` in crate/src/ffi.rs. */
export const ABI_VERSION = 8;

type Ptr = number;

export interface CoreExports {
  memory: WasmMemory;
  vae_abi_version(): number;
  vae_last_status(): number;
  vae_alloc(bytes: number): Ptr;
  vae_free(p: Ptr): number;
  vae_live_allocations(): number;
  vae_heap_used(): number;
  vae_plan_check(words: Ptr, n: number, error: Ptr): number;
  vae_model_new(words: Ptr, n: number, error: Ptr): Ptr;
  vae_model_free(m: Ptr): void;
  vae_model_param_count(m: Ptr): number;
  vae_model_params(m: Ptr): Ptr;
  vae_model_grads(m: Ptr): Ptr;
  vae_model_tensor_count(m: Ptr): number;
  vae_model_tensor_info(m: Ptr, i: number, out: Ptr): number;
  vae_model_tensor_name(m: Ptr, i: number, out: Ptr, cap: number): number;
  vae_model_layer_count(m: Ptr): number;
  vae_model_layer_info(m: Ptr, i: number, out: Ptr): number;
  vae_model_set_optimizer(m: Ptr, kind: number, lr: number, beta1: number, beta2: number, eps: number,
    momentum: number, weightDecay: number): number;
  vae_model_reset_optimizer(m: Ptr): void;
  vae_model_get_state(m: Ptr, out: Ptr): void;
  vae_model_set_state(m: Ptr, words: Ptr): number;
  vae_model_opt_state(m: Ptr): Ptr;
  vae_model_opt_slots(m: Ptr): number;
  vae_model_step(m: Ptr): number;
  vae_model_reserve(m: Ptr, rows: number, drows: number): number;
  vae_model_set_condition(m: Ptr, data: Ptr, dtype: number): number;
  vae_model_shuffle(m: Ptr, perm: Ptr, n: number): void;
  vae_model_train_step(m: Ptr, data: Ptr, dtype: number, idx: Ptr, batch: number, samples: number, klWeight: number,
    warmupSteps: number, binarize: number, objective: number, stats: Ptr): number;
  vae_model_loss_grad(m: Ptr, x: Ptr, rows: number, eps: Ptr, samples: number, beta: number, objective: number, stats: Ptr): number;
  vae_model_evaluate(m: Ptr, data: Ptr, dtype: number, n: number, samples: number, seed: number, useSeed: number,
    perRec: Ptr, perKl: Ptr, perElem: Ptr, stats: Ptr): number;
  vae_model_log_likelihood(m: Ptr, data: Ptr, dtype: number, n: number, k: number, seed: number, useSeed: number,
    outLk: Ptr, outElbo: Ptr): number;
  vae_model_encode(m: Ptr, data: Ptr, dtype: number, n: number, meanOut: Ptr, logVarOut: Ptr): number;
  vae_model_decode(m: Ptr, z: Ptr, n: number, out: Ptr, logits: number): number;
  vae_model_reconstruct(m: Ptr, data: Ptr, dtype: number, n: number, out: Ptr): number;
  vae_model_sample(m: Ptr, n: number, seed: number, useSeed: number, out: Ptr): number;
  vae_gemm(op: number, m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr,
    ldc: number, accumulate: number, mode: number): number;
  vae_math(f: number, x: Ptr, out: Ptr, n: number, scalar: number): number;
  vae_kernel_twin(id: number, n: number, a: Ptr, b: Ptr, out: Ptr, scalar: number): number;
  vae_peak(iters: number): number;
  vae_thread_control(): Ptr;
  vae_threads_available(): number;
  vae_threads_register(workers: number): number;
  vae_threads_shutdown(): void;
  vae_thread_work(id: number, seen: number, spins: number): number;
  vae_model_set_threads(m: Ptr, threads: number): void;
  vae_threads_inject_fault(id: number, at?: number, filter?: Ptr, filterLen?: number): void;
  vae_threads_fault_armed(): number;
  vae_threads_fault_site(): Ptr;
  vae_threads_inject_delay(id: number, at: number, ms: number): void;
  vae_threads_stats(out: Ptr, n: number, reset: number): number;
  vae_threads_empty_tasks(threads: number, parts: number, reps: number, work: number): void;
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
    case Status.NON_FINITE: return 'the loss, a gradient or the update they give became NaN or infinite';
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
export const RECON = { bernoulli: 0, gaussian: 1, gaussianLearned: 2, squaredError: 3, categorical: 4 } as const;
export const ACTIVATION = { relu: 0, leakyRelu: 1, tanh: 2, sigmoid: 3, softplus: 4, linear: 5 } as const;
export const INIT = { 'lecun-uniform': 0, 'glorot-uniform': 1, normal: 2 } as const;
export const OPTIMIZER = { sgd: 0, adam: 1, adagrad: 2 } as const;
export const OBJECTIVE = { elbo: 0, iwae: 1 } as const;
export const GEMM_OP = { NN: 0, NT: 1, TN: 2 } as const;
export const MATH_FN = { exp: 0, ln: 1, sigmoid: 2, softplus: 3, tanh: 4, log1p: 5 } as const;

/** Descriptor constants (crate/src/plan.rs). */
export const DESCRIPTOR_VERSION = 1;
export const MAX_LAYERS = 32;
export const MAX_PARAMS = 2 ** 25;
export const MAX_UNITS = 2 ** 20;
/** Largest kernel side, stride and padding (`MAX_KERNEL` in crate/src/ops/mod.rs). */
export const MAX_KERNEL = 255;
/** Largest number of values per row in any layer's output (`MAX_ELEMENTS`), and in a convolution's windows. */
export const MAX_ELEMENTS = 2 ** 22;
export const MAX_COLS = 2 ** 25;
export const NONE = 0xffffffff;
export const LAYER_KIND = { dense: 1, conv2d: 2, conv2dTranspose: 3, flatten: 4, reshape: 5 } as const;
export const SECTION = { encoder: 0, decoder: 1, output: 2 } as const;
export const PADDING = { valid: 0, same: 1, explicit: 2 } as const;
/** Op codes in `vae_model_layer_info`. */
export const LAYER_OP = ['view', 'dense', 'conv2d', 'conv2dTranspose'] as const;

/** Why the core refused a descriptor (`Reason` in crate/src/ops/mod.rs). */
export const REASON = {
  BAD_DESCRIPTOR: 1, NEEDS_IMAGE: 2, KERNEL_TOO_LARGE: 3, EMPTY_OUTPUT: 4, RESHAPE_SIZE: 5, OUTPUT_SHAPE: 6,
  TOO_LARGE: 7, ACTIVATION_NOT_ALLOWED: 8, OUTPUT_KIND: 9, OUTPUT_PADDING: 10, CONDITION: 11,
} as const;
/** Words of a plan error record (`ERROR_WORDS` in crate/src/plan.rs); of a tensor and a layer record. */
export const ERROR_WORDS = 13;
/** What was too large (third detail of TOO_LARGE). */
export const TOO_LARGE = { output: 0, windows: 1, weights: 2 } as const;
export const TENSOR_WORDS = 8;
export const LAYER_WORDS = 11;

/** A shape per data row: flat [n] (rank 1) or an image [h, w, c] (rank 3). */
export interface CoreShape {
  rank: 1 | 3;
  h: number;
  w: number;
  c: number;
}

export type CoreLayer =
  | { kind: 'dense'; units: number }
  | { kind: 'conv2d' | 'conv2dTranspose'; filters: number; kernel: [number, number]; strides: [number, number];
      padding: 'valid' | 'same' | [number, number]; outputPadding?: [number, number] }
  | { kind: 'flatten' }
  | { kind: 'reshape'; target: CoreShape };

export interface CorePlan {
  kind: keyof typeof KIND;
  recon: keyof typeof RECON;
  leakySlope: number;
  variance: number;
  init: keyof typeof INIT;
  initStd: number;
  seed: number;
  input: CoreShape;
  latentDim: number;
  /** Values of the condition per row (0 or absent: unconditional). */
  condition?: number;
  layers: { section: keyof typeof SECTION; activation: keyof typeof ACTIVATION; layer: CoreLayer }[];
  /** Likelihood groups covering the row in order (default: one group of `recon` over the whole row). */
  groups?: { recon: keyof typeof RECON; start: number; width: number }[];
}

const f32bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;

/** Encodes a plan as the descriptor words `Plan::compile` reads. */
export function planWords(p: CorePlan): Uint32Array {
  const w: number[] = [
    DESCRIPTOR_VERSION, KIND[p.kind], RECON[p.recon], f32bits(p.leakySlope), f32bits(p.variance), INIT[p.init],
    f32bits(p.initStd), p.seed >>> 0, p.input.rank, p.input.h, p.input.w, p.input.c, p.latentDim, p.condition ?? 0, p.groups?.length ?? 0,
    p.layers.length,
  ];
  for (const { section, activation, layer: l } of p.layers) {
    w.push(LAYER_KIND[l.kind], SECTION[section], ACTIVATION[activation]);
    switch (l.kind) {
      case 'dense': w.push(l.units); break;
      case 'conv2d':
      case 'conv2dTranspose': {
        const pad = l.padding === 'valid' ? [PADDING.valid, 0, 0] : l.padding === 'same' ? [PADDING.same, 0, 0] : [PADDING.explicit, ...l.padding];
        w.push(l.filters, ...l.kernel, ...l.strides, ...pad);
        if (l.kind === 'conv2dTranspose') w.push(...(l.outputPadding ?? [NONE, NONE]));
        break;
      }
      case 'flatten': break;
      case 'reshape': w.push(l.target.rank, l.target.h, l.target.w, l.target.c); break;
    }
  }
  for (const g of p.groups ?? []) w.push(RECON[g.recon], g.start, g.width);
  return Uint32Array.from(w);
}

/** A plan error record as the core writes it. */
export interface PlanError {
  reason: number;
  /** Descriptor position of the layer, or NONE for the model as a whole. */
  layer: number;
  input: CoreShape;
  output: CoreShape;
  detail: [number, number, number];
}

export function readPlanError(w: Uint32Array): PlanError {
  const shape = (at: number): CoreShape => ({ rank: w[at] === 3 ? 3 : 1, h: w[at + 1]!, w: w[at + 2]!, c: w[at + 3]! });
  return { reason: w[0]!, layer: w[1]!, input: shape(2), output: shape(6), detail: [w[10]!, w[11]!, w[12]!] };
}
