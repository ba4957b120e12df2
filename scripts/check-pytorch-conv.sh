#!/usr/bin/env bash
# Manual check (not part of CI: it needs Debian's python3-torch, about 1 GB): the PyTorch port of the keras.io
# conv VAE (as ../shared/torch/conv_vae_ref.py builds it: padding 1, output padding 1, modules c1 … t3) with
# PyTorch's own initialisation loads through VAE.fromPyTorch and computes PyTorch's encoder outputs and decoder
# logits within 1e-4; toPyTorch's file loads back into the PyTorch model (load_state_dict, strict) unchanged.
# Safetensors files are written and read here by a few lines of Python (Debian has no python3-safetensors).
# Usage: scripts/check-pytorch-conv.sh [python with torch, default /usr/bin/python3]
set -euo pipefail
py="${1:-/usr/bin/python3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -c "import torch, numpy" || { echo "needs Python with torch and numpy (apt-get install python3-torch)" >&2; exit 1; }
cat > "$tmp/model.py" <<'PY'
import json, struct, sys, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
class ConvVAE(nn.Module):
    def __init__(self, latent=2):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, stride=2, padding=1); self.c2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.fc = nn.Linear(3136, 16); self.mu = nn.Linear(16, latent); self.lv = nn.Linear(16, latent)
        self.d0 = nn.Linear(latent, 3136)
        self.t1 = nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1)
        self.t2 = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)
        self.t3 = nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1)
    def encode(self, x):
        h = F.relu(self.fc(F.relu(self.c2(F.relu(self.c1(x)))).flatten(1)))
        return self.mu(h), self.lv(h)
    def decode(self, z):
        return self.t3(F.relu(self.t2(F.relu(self.t1(F.relu(self.d0(z)).view(-1, 64, 7, 7))))))
def save(sd, path):
    header, blobs, at = {}, [], 0
    for k, v in sd.items():
        b = v.detach().numpy().astype('<f4').tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(v.shape), 'data_offsets': [at, at + len(b)]}; blobs.append(b); at += len(b)
    h = json.dumps(header).encode()
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
def load(path):
    b = open(path, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; header = json.loads(b[8:8 + n]); out = {}
    for k, v in header.items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']; out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + e], '<f4').copy().reshape(v['shape']))
    return out
PY
"$py" - "$tmp" <<'PY'
import sys, json, torch
sys.path.insert(0, sys.argv[1]); from model import ConvVAE, save
tmp = sys.argv[1]; torch.manual_seed(1)
m = ConvVAE(); save(m.state_dict(), f'{tmp}/theirs.safetensors')
x = torch.rand(3, 1, 28, 28); z = torch.randn(2, 2)
with torch.no_grad():
    mu, lv = m.encode(x); logits = m.decode(z)
json.dump({'x': x.flatten().tolist(), 'z': z.flatten().tolist(), 'mu': mu.flatten().tolist(), 'lv': lv.flatten().tolist(), 'logits': logits.flatten().tolist()}, open(f'{tmp}/io.json', 'w'))
PY
cd "$root"
node --input-type=module -e "
import { readFileSync, writeFileSync } from 'node:fs';
import { VAE, convLayers } from './dist/index.js';
const io = JSON.parse(readFileSync('$tmp/io.json', 'utf8'));
const vae = await VAE.fromPyTorch(readFileSync('$tmp/theirs.safetensors'), { ...convLayers([28, 28, 1], { padding: 'pytorch' }), latentDim: 2 });
const worst = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const { mean, logVar } = vae.encode(Float32Array.from(io.x));
const logits = vae.decode(Float32Array.from(io.z), { logits: true });
const errs = { mean: worst(Array.from(mean), io.mu), logVar: worst(Array.from(logVar), io.lv), logits: worst(Array.from(logits), io.logits) };
console.log('largest |vae-wasm − PyTorch|:', JSON.stringify(errs));
if (Object.values(errs).some((e) => !(e < 1e-4))) { console.error('FAIL: differences above 1e-4'); process.exit(1); }
writeFileSync('$tmp/ours.safetensors', vae.toPyTorch());"
"$py" - "$tmp" <<'PY'
import sys, torch
sys.path.insert(0, sys.argv[1]); from model import ConvVAE, load
tmp = sys.argv[1]; torch.manual_seed(1); ref = ConvVAE(); m = ConvVAE()
m.load_state_dict(load(f'{tmp}/ours.safetensors'), strict=True)
same = all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), m.state_dict().values()))
print('toPyTorch round trip loads strictly into the PyTorch model and equals its tensors:', same)
sys.exit(0 if same else 1)
PY
echo "OK: the PyTorch conv VAE state dict round-trips through vae-wasm"
