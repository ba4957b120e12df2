// Peak and GEMM throughput of the wasm core, one thread. Prints one JSON line.
// Peak: independent f32x4 multiply-add chains (vae_peak). GEMM: the products of the default VAE (batch 128) and of
// Kingma & Welling's configuration (500 hidden, batch 100), forward and backward, in GFLOP/s and fraction of peak.
import { readFileSync } from 'node:fs';

const bytes = readFileSync(new URL('../ts/core/vae_core.wasm', import.meta.url));
const { instance } = await WebAssembly.instantiate(bytes, {});
const x = instance.exports;

function time(fn, minSeconds = 0.3) {
  fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const s = (performance.now() - t0) / 1000;
    if (s >= minSeconds) return s / reps;
    reps *= 2;
  }
}

const peakIters = 2_000_000;
const peakSeconds = time(() => x.vae_peak(peakIters));
const peak = (peakIters * 96) / peakSeconds / 1e9;

// [name, op, M, N, K]: op 0 = A·B, 1 = A·Bᵀ, 2 = Aᵀ·B.
const shapes = [];
for (const [cfg, batch, hidden] of [['default', 128, 400], ['kw', 100, 500]]) {
  shapes.push(
    [`${cfg} enc fwd X·W1 (${batch}×784·784×${hidden})`, 0, batch, hidden, 784],
    [`${cfg} dec fwd H·W4 (${batch}×${hidden}·${hidden}×784)`, 0, batch, 784, hidden],
    [`${cfg} dec bwd dH=dY·W4ᵀ (${batch}×784·784×${hidden})`, 1, batch, hidden, 784],
    [`${cfg} dec bwd dW4=Hᵀ·dY (${hidden}×${batch}·${batch}×784)`, 2, hidden, 784, batch],
    [`${cfg} enc bwd dW1=Xᵀ·dA (784×${batch}·${batch}×${hidden})`, 2, 784, hidden, batch],
  );
}
const gemm = [];
for (const [name, op, m, n, k] of shapes) {
  const [ar, ac] = op === 2 ? [k, m] : [m, k];
  const [br, bc] = op === 1 ? [n, k] : [k, n];
  const a = x.vae_alloc(ar * ac * 4), b = x.vae_alloc(br * bc * 4), c = x.vae_alloc(m * n * 4);
  new Float32Array(x.memory.buffer, a, ar * ac).fill(0.5);
  new Float32Array(x.memory.buffer, b, br * bc).fill(0.25);
  const s = time(() => x.vae_gemm(op, m, n, k, a, ac, b, bc, c, n, 0, 0));
  const gflops = (2 * m * n * k) / s / 1e9;
  gemm.push({ name, m, n, k, gflops, fractionOfPeak: gflops / peak });
  x.vae_free(a); x.vae_free(b); x.vae_free(c);
}
console.log(JSON.stringify({ contender: 'kernels', peakGflops: peak, gemm }));
