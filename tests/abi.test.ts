// The TypeScript side of the boundary agrees with the Rust side: constants are read from the crate's source, and
// every export the TypeScript interface names exists in the built module.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ABI_VERSION, ACTIVATION, INIT, KIND, MAX_HIDDEN, OPTIMIZER, RECON, ROLE_NAMES, Status } from '../ts/core/abi';
import { init } from '../ts/core/wasm';

const src = (f: string) => readFileSync(new URL(`../crate/src/${f}`, import.meta.url), 'utf8');

describe('ABI', () => {
  it('version, status codes and limits match the crate', async () => {
    expect(Number(/ABI_VERSION: u32 = (\d+)/.exec(src('ffi.rs'))![1])).toBe(ABI_VERSION);
    const model = src('model.rs');
    for (const [name, code] of Object.entries(Status)) {
      if (name === 'OK') continue;
      expect(Number(new RegExp(`const ${name}: i32 = (\\d+);`).exec(model)![1]), name).toBe(code);
    }
    expect(Number(/MAX_HIDDEN: usize = (\d+)/.exec(model)![1])).toBe(MAX_HIDDEN);
    const core = await init();
    expect(core.x.vae_abi_version()).toBe(ABI_VERSION);
  });

  it('enum codes match the Rust decoders', () => {
    const model = src('model.rs');
    const nn = src('nn.rs');
    const optim = src('optim.rs');
    const arm = (text: string, code: number) => new RegExp(`${code} => (?:Some\\()?(\\w+::\\w+)`).exec(text)?.[1];
    expect(arm(model, KIND.vae)).toBe('Kind::Vae');
    expect(arm(model, KIND.autoencoder)).toBe('Kind::Autoencoder');
    const recon = /let recon = match w\[1\] \{([\s\S]*?)\};/.exec(model)![1]!;
    expect(arm(recon, RECON.bernoulli)).toBe('Recon::Bernoulli');
    expect(arm(recon, RECON.gaussian)).toBe('Recon::Gaussian');
    expect(arm(recon, RECON.gaussianLearned)).toBe('Recon::GaussianLearned');
    expect(arm(recon, RECON.squaredError)).toBe('Recon::SquaredError');
    const initArms = /let init = match w\[5\] \{([\s\S]*?)\};/.exec(model)![1]!;
    expect(arm(initArms, INIT['lecun-uniform'])).toBe('Init::LecunUniform');
    expect(arm(initArms, INIT['glorot-uniform'])).toBe('Init::GlorotUniform');
    expect(arm(initArms, INIT.normal)).toBe('Init::Normal');
    const acts = { relu: 'Act::Relu', leakyRelu: 'Act::LeakyRelu', tanh: 'Act::Tanh', sigmoid: 'Act::Sigmoid', softplus: 'Act::Softplus', linear: 'Act::Linear' };
    for (const [k, v] of Object.entries(acts)) expect(arm(nn, ACTIVATION[k as keyof typeof ACTIVATION])).toBe(v);
    expect(arm(optim, OPTIMIZER.sgd)).toBe('OptKind::Sgd');
    expect(arm(optim, OPTIMIZER.adam)).toBe('OptKind::Adam');
    expect(arm(optim, OPTIMIZER.adagrad)).toBe('OptKind::Adagrad');
    const roles = [...model.matchAll(/^\s+(\w+) = (\d+),$/gm)].map((m) => [m[1], Number(m[2])] as const);
    expect(roles).toHaveLength(ROLE_NAMES.length);
    roles.forEach(([, code], i) => expect(code).toBe(i));
  });

  it('the module exports exactly what the interface declares', async () => {
    const declared = [...readFileSync(new URL('../ts/core/abi.ts', import.meta.url), 'utf8').matchAll(/^\s+(vae_\w+)\(/gm)].map((m) => m[1]);
    const core = await init();
    const exported = Object.keys(core.x).filter((k) => k.startsWith('vae_'));
    expect(new Set(exported)).toEqual(new Set(declared));
  });
});
