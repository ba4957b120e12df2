"""Reference: the keras.io convolutional VAE (examples/generative/vae.py) in PyTorch 1.13 (Debian's CPU build).

Encoder: Conv2d(1->32, 3, stride 2, pad 1) ReLU, Conv2d(32->64, 3, stride 2, pad 1) ReLU, flatten 3136, Linear(16) ReLU,
Linear(latent) for mean and for log-variance. Decoder: Linear(latent -> 3136) ReLU, reshape 64x7x7,
ConvTranspose2d(64->64, 3, stride 2, pad 1, output_pad 1) ReLU, ConvTranspose2d(64->32, same) ReLU,
ConvTranspose2d(32->1, 3, stride 1, pad 1) -> logits. Loss: BCE summed over pixels (from logits) + analytic KL, per sample.
Adam 1e-3, batch 128, MNIST intensities /255 (not binarized), 60,000 train / 10,000 test, seed 1.

Usage (Debian's python3, which has python3-torch): python3 conv_vae_ref.py --mnist DIR [--epochs N] [--threads T] [--latent 2] [--bench-steps S] [--json OUT] [--seed 1] [--init WEIGHTS.safetensors] [--draws vae-wasm] [--log-steps K]
(This copy adds --seed; seed 1 is the run docs/references.md reports. --init starts from a state dict in safetensors,
e.g. vae-wasm's initial weights through toPyTorch(), so both libraries start from the same point. --draws vae-wasm
takes each epoch's order and each step's eps from vae-wasm's training generator for --seed (PCG32 stream 1, replayed
below bit for bit) and steps on the batch mean, as vae-wasm does: with --init, the two libraries then train one model
on the same draws. --log-steps prints the first K steps' losses per image.)
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
    def forward(self, x, eps=None):
        h = F.relu(self.fc(F.relu(self.c2(F.relu(self.c1(x)))).flatten(1)))
        mu, lv = self.mu(h), self.lv(h)
        z = mu + torch.exp(0.5 * lv) * (torch.randn_like(mu) if eps is None else eps)
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

M64 = (1 << 64) - 1

def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & M64; z = x
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return x, z ^ (z >> 31)

F32 = np.float32

def ln32(x):
    """vae-wasm's f32 natural log (crate/src/math.rs `ln`), operation for operation in f32, so its normals match."""
    bits = int(np.array(x, dtype=F32).view(np.uint32))
    e = F32((bits >> 23) - 127); m = np.array((bits & 0x007fffff) | 0x3f800000, dtype=np.uint32).view(F32)[()]
    big = F32(1.0) if m > F32(1.4142135) else F32(0.0)
    m = m * (big * F32(-0.5) + F32(1.0)); e = e + big; f = m - F32(1.0); z = f * f; p = F32(7.0376836e-2)
    for c in (-1.1514611e-1, 1.1676999e-1, -1.2420141e-1, 1.4249323e-1, -1.6668058e-1, 2.0000715e-1, -2.4999994e-1, 3.333333e-1):
        p = p * f + F32(c)
    y = p * f * z - z * F32(0.5)
    return f + y + e * F32(0.69314718)

class Pcg32:
    """vae-wasm's generator (crate/src/rng.rs): PCG32 XSH-RR seeded through SplitMix64, Marsaglia's polar normals."""
    def __init__(self, seed, stream):
        s = (seed ^ (stream * 0xd1342543de82ef95)) & M64
        s, init = splitmix64(s); s, inc = splitmix64(s)
        self.state, self.inc, self.spare = 0, ((inc << 1) | 1) & M64, None
        self.u32(); self.state = (self.state + init) & M64; self.u32()
    def u32(self):
        old = self.state; self.state = (old * 6364136223846793005 + self.inc) & M64
        x = (((old >> 18) ^ old) >> 27) & 0xffffffff; r = old >> 59
        return ((x >> r) | (x << ((32 - r) & 31))) & 0xffffffff
    def uniform(self): return F32(self.u32() >> 8) * F32(1.0 / 16777216.0)
    def below(self, n):
        m = self.u32() * n; low = m & 0xffffffff
        if low < n:
            t = ((1 << 32) - n) % n
            while low < t: m = self.u32() * n; low = m & 0xffffffff
        return m >> 32
    def normal(self):
        if self.spare is not None: v, self.spare = self.spare, None; return v
        while True:
            u = F32(2.0) * self.uniform() - F32(1.0); v = F32(2.0) * self.uniform() - F32(1.0); s = u * u + v * v
            if F32(0.0) < s < F32(1.0):
                f = np.sqrt(F32(-2.0) * ln32(s) / s); self.spare = v * f; return u * f
    def shuffle(self, v):
        for i in range(len(v) - 1, 0, -1):
            j = self.below(i + 1); v[i], v[j] = v[j], v[i]

def loss_fn(logits, x, mu, lv):
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction='sum')
    kl = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
    return rec + kl

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mnist', required=True); ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--latent', type=int, default=2)
    ap.add_argument('--bench-steps', type=int, default=0); ap.add_argument('--json'); ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--init'); ap.add_argument('--draws', choices=['vae-wasm']); ap.add_argument('--log-steps', type=int, default=0)
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
    rng = Pcg32(a.seed, 1) if a.draws else None; step = 0
    for ep in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        if rng: order = list(range(tr.shape[0])); rng.shuffle(order); perm = torch.tensor(order)
        else: perm = torch.randperm(tr.shape[0])
        m.train(); tot = 0.0
        for i in range(0, tr.shape[0], 128):
            x = tr[perm[i:i + 128]]; n = x.shape[0]
            eps = torch.tensor(np.array([rng.normal() for _ in range(n * a.latent)], dtype=F32).reshape(n, a.latent)) if rng else None
            opt.zero_grad(); logits, mu, lv = m(x, eps); l = loss_fn(logits, x, mu, lv)
            (l / n if rng else l).backward(); opt.step(); tot += l.item(); step += 1
            if step <= a.log_steps: print(json.dumps({'step': step, 'loss': l.item() / n})); sys.stdout.flush()
        secs = time.perf_counter() - t0
        m.eval(); tl = 0.0
        with torch.no_grad():
            for i in range(0, te.shape[0], 1000):
                x = te[i:i + 1000]; logits, mu, lv = m(x); tl += loss_fn(logits, x, mu, lv).item()
        r = {'epoch': ep, 'torch': torch.__version__, 'train_loss': tot / tr.shape[0], 'test_loss': tl / te.shape[0], 'seconds': secs, 'samples_per_s': tr.shape[0] / secs}
        print(json.dumps(r)); sys.stdout.flush(); out.append(r)
    if a.json:
        with open(a.json, 'w') as f: f.write('\n'.join(json.dumps(r) for r in out) + '\n')

if __name__ == '__main__':
    main()
