// The SIMD kernels inside the built wasm module against their scalar twins (same module, same inputs; the twin
// runs the kernel one element at a time, i.e. its scalar tail): bit-identical results, and every kernel against an
// independent f64 formula (the GEMM against a plain product, activations and optimizers against their definitions).
import { beforeAll, describe, expect, it } from 'vitest';
import { GEMM_OP, MATH_FN } from '../ts/core/abi';
import { type Core, init } from '../ts/core/wasm';

let core: Core;
beforeAll(async () => { core = await init(); });

/** Deterministic pseudo-random floats in [-1, 1) (a small LCG; independent of the core's RNG). */
function randoms(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

function gemm(op: number, m: number, n: number, k: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
  c0: Float32Array, ldc: number, accumulate: boolean, scalar: boolean): Float32Array {
  return core.scoped((alloc) => {
    const pa = alloc(a.byteLength); core.f32(pa, a.length).set(a);
    const pb = alloc(b.byteLength); core.f32(pb, b.length).set(b);
    const pc = alloc(c0.byteLength); core.f32(pc, c0.length).set(c0);
    core.check(core.x.vae_gemm(op, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate ? 1 : 0, scalar ? 1 : 0), 'gemm');
    return core.f32(pc, c0.length).slice();
  });
}

describe('GEMM: packed SIMD kernel vs scalar twin', () => {
  // Shapes of the default VAE's passes at batch 128 and awkward edge sizes.
  const shapes: [number, number, number][] = [
    [128, 400, 784], [128, 784, 400], [784, 400, 128], [400, 784, 128], [128, 20, 400], [128, 400, 20],
    [1, 1, 1], [7, 13, 5], [9, 17, 300], [130, 9, 257], [3, 530, 2],
  ];
  for (const [m, n, k] of shapes) {
    for (const [name, op] of Object.entries(GEMM_OP)) {
      it(`${name} ${m}×${n}×${k} is bit-identical and matches f64`, () => {
        const [ar, ac] = op === GEMM_OP.TN ? [k, m] : [m, k];
        const [br, bc] = op === GEMM_OP.NT ? [n, k] : [k, n];
        const a = randoms(ar * ac, m * 7 + k);
        const b = randoms(br * bc, n * 13 + k);
        const c0 = randoms(m * n, 99);
        for (const accumulate of [false, true]) {
          const simd = gemm(op, m, n, k, a, ac, b, bc, c0, n, accumulate, false);
          const twin = gemm(op, m, n, k, a, ac, b, bc, c0, n, accumulate, true);
          expect(Buffer.from(simd.buffer).equals(Buffer.from(twin.buffer))).toBe(true);
          // Independent f64 product at a few spots.
          for (const [i, j] of [[0, 0], [m - 1, n - 1], [m >> 1, n >> 1]] as const) {
            let s = accumulate ? c0[i * n + j]! : 0;
            for (let p = 0; p < k; p++) {
              const av = op === GEMM_OP.TN ? a[p * ac + i]! : a[i * ac + p]!;
              const bv = op === GEMM_OP.NT ? b[j * bc + p]! : b[p * bc + j]!;
              s += av * bv;
            }
            expect(Math.abs(simd[i * n + j]! - s)).toBeLessThan(1e-5 * Math.max(1, Math.sqrt(k)));
          }
        }
      });
    }
  }
});

describe('elementwise math: SIMD lanes vs scalar twin, and accuracy', () => {
  // 4011 = 250·16 + 2·4 + 3 values: the 16-value, four-lane and scalar loops all run.
  const xs = new Float32Array(4011);
  for (let i = 0; i < xs.length; i++) xs[i] = -100 + i * 0.05;
  const positives = Float32Array.from(xs, (v) => Math.abs(v) + 1e-3);
  const unit = Float32Array.from({ length: 4011 }, (_, i) => i / 4010);
  const reference: Record<keyof typeof MATH_FN, [Float32Array, (x: number) => number, number]> = {
    exp: [Float32Array.from(xs, (v) => Math.max(-87, Math.min(87, v))), Math.exp, 3e-7],
    ln: [positives, Math.log, 3e-7],
    sigmoid: [Float32Array.from(xs, (v) => Math.max(-80, v)), (x) => 1 / (1 + Math.exp(-x)), 1e-6],
    softplus: [Float32Array.from(xs, (v) => Math.max(-80, v)), (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))), 1e-6],
    tanh: [xs, Math.tanh, 2e-6],
    log1p: [unit, Math.log1p, 3e-7],
  };
  for (const [name, id] of Object.entries(MATH_FN)) {
    it(`${name}`, () => {
      const [input, f, rel] = reference[name as keyof typeof MATH_FN];
      const run = (scalar: boolean) => core.scoped((alloc) => {
        const p = alloc(input.byteLength); core.f32(p, input.length).set(input);
        const o = alloc(input.byteLength);
        core.check(core.x.vae_math(id, p, o, input.length, scalar ? 1 : 0), name);
        return core.f32(o, input.length).slice();
      });
      const simd = run(false);
      const twin = run(true);
      expect(Buffer.from(simd.buffer).equals(Buffer.from(twin.buffer))).toBe(true);
      for (let i = 0; i < input.length; i++) {
        const want = f(input[i]!);
        expect(Math.abs(simd[i]! - want)).toBeLessThanOrEqual(rel * Math.abs(want) + 1e-7);
      }
    });
  }
});

/** Independent f64 formulas (from their definitions, not from crate/src) for what `vae_kernel_twin` computes. */
const SLOPE = 0.1; // the leaky slope vae_kernel_twin uses
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const ACTIVATIONS: [string, (x: number) => number, (x: number) => number][] = [
  ['relu', (x) => Math.max(x, 0), (x) => (x > 0 ? 1 : 0)],
  ['leakyRelu', (x) => (x > 0 ? x : SLOPE * x), (x) => (x > 0 ? 1 : SLOPE)],
  ['tanh', Math.tanh, (x) => 1 - Math.tanh(x) ** 2],
  ['sigmoid', sigmoid, (x) => sigmoid(x) * (1 - sigmoid(x))],
  ['softplus', (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))), sigmoid],
  ['linear', (x) => x, () => 1],
];
/**
 * Three steps from zero state with a constant gradient g, as PyTorch documents SGD (momentum 0.9, v ← g on the
 * first step), Adam (bias-corrected) and Adagrad, all with lr 0.01 and weight decay 0.01 added to the gradient.
 */
function optimizerReference(kind: 'sgd' | 'adam' | 'adagrad', theta0: number, g0: number): number {
  const lr = 0.01, wd = 0.01, momentum = 0.9, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  let theta = theta0;
  let s1 = 0;
  let s2 = 0;
  for (let t = 1; t <= 3; t++) {
    const g = g0 + wd * theta;
    if (kind === 'sgd') {
      s1 = t === 1 ? g : momentum * s1 + g;
      theta -= lr * s1;
    } else if (kind === 'adam') {
      s1 = beta1 * s1 + (1 - beta1) * g;
      s2 = beta2 * s2 + (1 - beta2) * g * g;
      theta -= (lr * (s1 / (1 - beta1 ** t))) / (Math.sqrt(s2 / (1 - beta2 ** t)) + eps);
    } else {
      s1 += g * g;
      theta -= (lr * g) / (Math.sqrt(s1) + eps);
    }
  }
  return theta;
}

describe('activations and optimizers: SIMD lanes vs scalar twin, and both vs independent formulas', () => {
  const kernels: [string, number, (a: number, b: number) => number][] = [
    ...ACTIVATIONS.map(([n, f], i) => [`${n} forward`, i, (a: number) => f(a)] as [string, number, (a: number, b: number) => number]),
    // d = b · act'(a): the backward pass of the activation for upstream gradient b.
    ...ACTIVATIONS.map(([n, , df], i) => [`${n} backward`, 6 + i, (a: number, b: number) => b * df(a)] as [string, number, (a: number, b: number) => number]),
    ['SGD with momentum', 12, (a, b) => optimizerReference('sgd', a, b)],
    ['Adam', 13, (a, b) => optimizerReference('adam', a, b)],
    ['Adagrad', 14, (a, b) => optimizerReference('adagrad', a, b)],
  ];
  // Sizes that end in each of the activations' loops: 16 values at a time (64), four lanes then a scalar tail (1039
  // = 64·16 + 3·4 + 3), a scalar tail alone (1027). (The optimizers run four lanes, then the tail.)
  for (const [name, id, reference] of kernels) {
    it(`${name}`, () => {
      for (const n of [1039, 1027, 64]) {
        const a = randoms(n, id + 1).map((v) => v * 8);
        const b = randoms(n, id + 100);
        const run = (scalar: boolean) => core.scoped((alloc) => {
          const pa = alloc(n * 4); core.f32(pa, n).set(a);
          const pb = alloc(n * 4); core.f32(pb, n).set(b);
          const po = alloc(n * 4);
          core.check(core.x.vae_kernel_twin(id, n, pa, pb, po, scalar ? 1 : 0), name);
          return core.f32(po, n).slice();
        });
        const simd = run(false);
        expect(Buffer.from(simd.buffer).equals(Buffer.from(run(true).buffer))).toBe(true);
        for (let i = 0; i < n; i++) {
          const want = reference(a[i]!, b[i]!);
          expect(Math.abs(simd[i]! - want), `${name}[${i}] of ${n}: a = ${a[i]}, b = ${b[i]}`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(want)));
        }
      }
    });
  }
});

describe('allocator', () => {
  it('alloc/free keep the live count and heap size flat', () => {
    const live = core.liveAllocations();
    const used = core.heapBytes();
    for (let i = 0; i < 1000; i++) {
      const p = core.alloc(1000 + (i % 7) * 333);
      expect(p % 16).toBe(0);
      core.free(p);
    }
    expect(core.liveAllocations()).toBe(live);
    expect(core.heapBytes()).toBe(used);
    expect(core.x.vae_free(12345)).toBe(0);
  });
});
