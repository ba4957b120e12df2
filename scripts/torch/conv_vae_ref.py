"""Reference: the keras.io convolutional VAE (examples/generative/vae.py) in PyTorch 1.13 (Debian's CPU build).

Encoder: Conv2d(1->32, 3, stride 2, pad 1) ReLU, Conv2d(32->64, 3, stride 2, pad 1) ReLU, flatten 3136, Linear(16) ReLU,
Linear(latent) for mean and for log-variance. Decoder: Linear(latent -> 3136) ReLU, reshape 64x7x7,
ConvTranspose2d(64->64, 3, stride 2, pad 1, output_pad 1) ReLU, ConvTranspose2d(64->32, same) ReLU,
ConvTranspose2d(32->1, 3, stride 1, pad 1) -> logits. Loss: BCE summed over pixels (from logits) + analytic KL, per sample.
Adam 1e-3, batch 128, MNIST intensities /255 (not binarized), 60,000 train / 10,000 test, seed 1.

Usage (Debian's python3, which has python3-torch): python3 conv_vae_ref.py --mnist DIR [--epochs N] [--threads T] [--latent 2] [--bench-steps S] [--json OUT] [--seed 1] [--init WEIGHTS.safetensors]
(This copy adds --seed; seed 1 is the run docs/references.md reports. --init starts from a state dict in safetensors,
e.g. vae-wasm's initial weights through toPyTorch(), so both libraries start from the same point.)
"""
import argparse, json, time, struct, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

def idx(path):
    with open(path, 'rb') as f:
        b = f.read()
    n, r, c = struct.unpack('>III', b[4:16])
    return np.frombuffer(b, dtype=np.uint8, offset=16).reshape(n, 1, r, c)

class ConvVAE(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.fc = nn.Linear(3136, 16)
        self.mu = nn.Linear(16, latent)
        self.lv = nn.Linear(16, latent)
        self.d0 = nn.Linear(latent, 3136)
        self.t1 = nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1)
        self.t2 = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)
        self.t3 = nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1)
    def forward(self, x):
        h = F.relu(self.fc(F.relu(self.c2(F.relu(self.c1(x)))).flatten(1)))
        mu, lv = self.mu(h), self.lv(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        d = F.relu(self.d0(z)).view(-1, 64, 7, 7)
        return self.t3(F.relu(self.t2(F.relu(self.t1(d))))), mu, lv

def read_safetensors(path):
    """A safetensors file of F32 tensors (u64 LE header length, JSON header, data), without the safetensors package."""
    with open(path, 'rb') as f: b = f.read()
    n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); base = 8 + n; out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        if v['dtype'] != 'F32': raise ValueError(f'{path}: {k} is {v["dtype"]}, expected F32')
        s, e = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(b[base + s:base + e], dtype='<f4').copy()).reshape(v['shape'])
    return out

def loss_fn(logits, x, mu, lv):
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction='sum')
    kl = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
    return rec + kl

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mnist', required=True); ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--latent', type=int, default=2)
    ap.add_argument('--bench-steps', type=int, default=0); ap.add_argument('--json'); ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--init')
    a = ap.parse_args()
    torch.manual_seed(a.seed); torch.set_num_threads(a.threads)
    tr = torch.from_numpy(idx(f'{a.mnist}/train-images-idx3-ubyte').astype(np.float32) / 255)
    te = torch.from_numpy(idx(f'{a.mnist}/t10k-images-idx3-ubyte').astype(np.float32) / 255)
    m = ConvVAE(a.latent)
    if a.init: m.load_state_dict(read_safetensors(a.init), strict=True)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    out = []
    if a.bench_steps:
        for i in range(5 + a.bench_steps):
            if i == 5: t0 = time.perf_counter()
            x = tr[(i * 128) % 59904:(i * 128) % 59904 + 128]
            opt.zero_grad(); l = loss_fn(*(lambda r: (r[0], x, r[1], r[2]))(m(x))); l.backward(); opt.step()
        dt = time.perf_counter() - t0
        r = {'impl': 'pytorch', 'torch': torch.__version__, 'threads': a.threads, 'samples_per_s': a.bench_steps * 128 / dt}
        print(json.dumps(r)); return
    for ep in range(1, a.epochs + 1):
        m.train(); perm = torch.randperm(tr.shape[0]); tot = 0.0; t0 = time.perf_counter()
        for i in range(0, tr.shape[0], 128):
            x = tr[perm[i:i + 128]]
            opt.zero_grad(); logits, mu, lv = m(x); l = loss_fn(logits, x, mu, lv); l.backward(); opt.step(); tot += l.item()
        secs = time.perf_counter() - t0
        m.eval(); tl = 0.0
        with torch.no_grad():
            for i in range(0, te.shape[0], 1000):
                x = te[i:i + 1000]; logits, mu, lv = m(x); tl += loss_fn(logits, x, mu, lv).item()
        r = {'epoch': ep, 'train_loss': tot / tr.shape[0], 'test_loss': tl / te.shape[0], 'seconds': secs, 'samples_per_s': tr.shape[0] / secs}
        print(json.dumps(r)); sys.stdout.flush(); out.append(r)
    if a.json:
        with open(a.json, 'w') as f: f.write('\n'.join(json.dumps(r) for r in out) + '\n')

if __name__ == '__main__':
    main()
