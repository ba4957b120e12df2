// The TypeScript side of the boundary agrees with the Rust side: constants are read from the crate's source, the
// descriptor's codes are checked by what the core compiles from them, and every export the TypeScript interface
// names exists in the built module.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ABI_VERSION, ACTIVATION, DESCRIPTOR_VERSION, ERROR_WORDS, INIT, KIND, MAX_COLS, MAX_ELEMENTS, MAX_KERNEL, MAX_LAYERS, MAX_PARAMS,
  MAX_UNITS, OPTIMIZER, REASON, RECON, Status,
} from '../ts/core/abi';
import { init } from '../ts/core/wasm';
import { Autoencoder, VAE } from '../ts/index';

const src = (f: string) => readFileSync(new URL(`../crate/src/${f}`, import.meta.url), 'utf8');
const constant = (text: string, name: string) => {
  const m = new RegExp(`const ${name}: \\w+ = ([^;]+);`).exec(text);
  if (!m) throw new Error(`no constant ${name}`);
  return Number(eval(m[1]!.replace(/(\d+) << (\d+)/, '$1 * 2 ** $2').replace(/_/g, '')));
};

describe('ABI', () => {
  it('version, status codes, limits and reasons match the crate', async () => {
    expect(constant(src('ffi.rs'), 'ABI_VERSION')).toBe(ABI_VERSION);
    const model = src('model.rs');
    for (const [name, code] of Object.entries(Status)) {
      if (name !== 'OK') expect(constant(model, name), name).toBe(code);
    }
    const plan = src('plan.rs');
    expect(constant(plan, 'DESCRIPTOR_VERSION')).toBe(DESCRIPTOR_VERSION);
    expect(constant(plan, 'MAX_LAYERS')).toBe(MAX_LAYERS);
    expect(constant(plan, 'MAX_PARAMS')).toBe(MAX_PARAMS);
    expect(constant(plan, 'MAX_UNITS')).toBe(MAX_UNITS);
    expect(constant(plan, 'ERROR_WORDS')).toBe(ERROR_WORDS);
    const ops = src('ops/mod.rs');
    expect(constant(ops, 'MAX_KERNEL')).toBe(MAX_KERNEL);
    expect(constant(ops, 'MAX_ELEMENTS')).toBe(MAX_ELEMENTS);
    expect(constant(ops, 'MAX_COLS')).toBe(MAX_COLS);
    const reasons = Object.fromEntries([...ops.matchAll(/^\s+(\w+) = (\d+),$/gm)].map((m) => [m[1]!, Number(m[2])]));
    const camel = (s: string) => s.toLowerCase().replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());
    expect(Object.keys(reasons)).toHaveLength(Object.keys(REASON).length);
    for (const [name, code] of Object.entries(REASON)) {
      const rust = name === 'BAD_DESCRIPTOR' ? 'BadDescriptor' : name === 'OUTPUT_PADDING' ? 'OutputPadding' : camel(name);
      expect(reasons[rust], name).toBe(code);
    }
    const core = await init();
    expect(core.x.vae_abi_version()).toBe(ABI_VERSION);
  });

  it('enum codes match the Rust decoders', () => {
    const arm = (text: string, code: number) => new RegExp(`${code} => (?:Some\\()?(\\w+::\\w+)`).exec(text)?.[1];
    const plan = src('plan.rs');
    expect(arm(plan, KIND.vae)).toBe('Kind::Vae');
    expect(arm(plan, KIND.autoencoder)).toBe('Kind::Autoencoder');
    // likelihood.rs names its numbers (`const GAUSSIAN: u32 = 1;`) and decodes by name (`GAUSSIAN => Recon::Gaussian`).
    const lik = src('likelihood.rs');
    const named = (code: number) => {
      const name = new RegExp(`const (\\w+): u32 = ${code};`).exec(lik)?.[1];
      return name && new RegExp(`${name} => (\\w+::\\w+)`).exec(lik)?.[1];
    };
    expect(named(RECON.bernoulli)).toBe('Recon::Bernoulli');
    expect(named(RECON.gaussian)).toBe('Recon::Gaussian');
    expect(named(RECON.gaussianLearned)).toBe('Recon::GaussianLearned');
    expect(named(RECON.squaredError)).toBe('Recon::SquaredError');
    expect(named(RECON.categorical)).toBe('Recon::Categorical');
    const initArms = /let init = match r\.next\(\)\? \{([\s\S]*?)\};/.exec(plan)![1]!;
    expect(arm(initArms, INIT['lecun-uniform'])).toBe('Init::LecunUniform');
    expect(arm(initArms, INIT['glorot-uniform'])).toBe('Init::GlorotUniform');
    expect(arm(initArms, INIT.normal)).toBe('Init::Normal');
    const acts = { relu: 'Act::Relu', leakyRelu: 'Act::LeakyRelu', tanh: 'Act::Tanh', sigmoid: 'Act::Sigmoid', softplus: 'Act::Softplus', linear: 'Act::Linear' };
    for (const [k, v] of Object.entries(acts)) expect(arm(src('act.rs'), ACTIVATION[k as keyof typeof ACTIVATION])).toBe(v);
    const optim = src('optim.rs');
    expect(arm(optim, OPTIMIZER.sgd)).toBe('OptKind::Sgd');
    expect(arm(optim, OPTIMIZER.adam)).toBe('OptKind::Adam');
    expect(arm(optim, OPTIMIZER.adagrad)).toBe('OptKind::Adagrad');
  });

  it('layer kinds, sections and paddings compile to the layers the core reports', async () => {
    const vae = await VAE.create({
      inputShape: [8, 6, 2], latentDim: 3, seed: 1,
      encoder: [{ type: 'conv2d', filters: 4, kernelSize: 3, strides: 2, padding: 'same' }, { type: 'conv2d', filters: 3, kernelSize: [2, 3], padding: 1 }, { type: 'flatten' }, 5],
      decoder: [{ type: 'dense', units: 24 }, { type: 'reshape', targetShape: [4, 3, 2] }, { type: 'conv2dTranspose', filters: 5, kernelSize: 3, strides: 2, padding: 1, outputPadding: 1 }],
      output: { type: 'conv2d', kernelSize: 3, padding: 'same' },
    });
    const shape = (s: { rank: number; h: number; w: number; c: number }) => (s.rank === 3 ? [s.h, s.w, s.c] : [s.c]);
    expect(vae.layers.map((l) => [l.op, l.section, l.index, shape(l.input), shape(l.output)])).toEqual([
      ['conv2d', 'encoder', 0, [8, 6, 2], [4, 3, 4]],
      ['conv2d', 'encoder', 1, [4, 3, 4], [5, 3, 3]],
      ['view', 'encoder', 2, [5, 3, 3], [45]],
      ['dense', 'encoder', 3, [45], [5]],
      ['dense', 'decoder', 0, [3], [24]],
      ['view', 'decoder', 1, [24], [4, 3, 2]],
      ['conv2dTranspose', 'decoder', 2, [4, 3, 2], [8, 6, 5]],
      ['conv2d', 'output', 0, [8, 6, 5], [8, 6, 2]],
    ]);
    expect(vae.tensors.map((t) => `${t.name}:${t.shape.join('x')}`)).toEqual([
      'encoder.0.weight:3x3x2x4', 'encoder.0.bias:4', 'encoder.1.weight:2x3x4x3', 'encoder.1.bias:3',
      'encoder.3.weight:45x5', 'encoder.3.bias:5', 'encoder.mean.weight:5x3', 'encoder.mean.bias:3',
      'encoder.logVar.weight:5x3', 'encoder.logVar.bias:3', 'decoder.0.weight:3x24', 'decoder.0.bias:24',
      'decoder.2.weight:3x3x5x2', 'decoder.2.bias:5', 'decoder.out.weight:3x3x5x2', 'decoder.out.bias:2',
    ]);
    vae.dispose();
    const ae = await Autoencoder.create({ inputDim: 5, latentDim: 2, encoder: [], decoder: [], loss: 'mse' });
    expect(ae.tensors.map((t) => t.name)).toEqual(['encoder.code.weight', 'encoder.code.bias', 'decoder.out.weight', 'decoder.out.bias']);
    ae.dispose();
  });

  it('the module exports exactly what the interface declares', async () => {
    const declared = [...readFileSync(new URL('../ts/core/abi.ts', import.meta.url), 'utf8').matchAll(/^\s+(vae_\w+)\(/gm)].map((m) => m[1]);
    const core = await init();
    const exported = Object.keys(core.x).filter((k) => k.startsWith('vae_'));
    expect(new Set(exported)).toEqual(new Set(declared));
  });
});
