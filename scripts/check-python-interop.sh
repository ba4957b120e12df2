#!/usr/bin/env bash
# Manual check (not part of CI: it needs Python's safetensors and numpy, which the npm and Debian registries do
# not provide): Python's safetensors reads a model saved by vae-wasm, and vae-wasm reads a pytorch/examples state
# dict written by Python, computing the same encoder mean. Usage: scripts/check-python-interop.sh [python]
set -euo pipefail
py="${1:-python3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -c "import safetensors, numpy" || { echo "needs: pip install safetensors numpy" >&2; exit 1; }
cd "$root"
node --input-type=module -e "
import { writeFileSync } from 'node:fs';
import { VAE } from './dist/index.js';
const v = await VAE.create({ inputDim: 784, latentDim: 20, seed: 1 });
writeFileSync('$tmp/ours.safetensors', v.save());"
"$py" - "$tmp" <<'PY'
import json, sys, numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
tmp = sys.argv[1]
with safe_open(f'{tmp}/ours.safetensors', framework='np') as f:
    assert f.metadata()['format'] == 'vae-wasm' and f.get_tensor('encoder.0.weight').shape == (784, 400)
rng = np.random.default_rng(0)
shapes = {'fc1': (400, 784), 'fc21': (20, 400), 'fc22': (20, 400), 'fc3': (400, 20), 'fc4': (784, 400)}
sd = {}
for name, (o, i) in shapes.items():
    sd[f'{name}.weight'] = (rng.standard_normal((o, i)) * 0.05).astype(np.float32)
    sd[f'{name}.bias'] = (rng.standard_normal(o) * 0.05).astype(np.float32)
save_file(sd, f'{tmp}/theirs.safetensors')
x = np.full((1, 784), 0.5, np.float32)
mean = np.maximum(0, x @ sd['fc1.weight'].T + sd['fc1.bias']) @ sd['fc21.weight'].T + sd['fc21.bias']
open(f'{tmp}/mean.json', 'w').write(json.dumps([float(v) for v in mean[0]]))
PY
node --input-type=module -e "
import { readFileSync } from 'node:fs';
import { VAE } from './dist/index.js';
const v = await VAE.fromPyTorch(readFileSync('$tmp/theirs.safetensors'));
const got = v.encode(new Float32Array(784).fill(0.5)).mean;
const want = JSON.parse(readFileSync('$tmp/mean.json', 'utf8'));
const err = Math.max(...want.map((w, i) => Math.abs(w - got[i])));
if (!(err < 1e-5)) { console.error('mismatch', err); process.exit(1); }
console.log('python interop ok: Python read our file; our encoder mean matches NumPy within', err.toExponential(1));"
