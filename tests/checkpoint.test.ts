// Checkpoints: resuming gives bit-identical weights to an uninterrupted run; checkpoint files are written
// atomically; a saved file with any byte flipped is refused with a clear error.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VAE } from '../ts/index';
import type { FitOptions, OptimizerConfig } from '../ts/types';
import { weightBytes as bytesOf } from './helpers';
import { TestRandom } from './oracle';

const cfg = { inputDim: 20, latentDim: 3, encoder: [12], seed: 4 };
const data = new TestRandom(8).uniforms(150 * 20);
const val = new TestRandom(9).uniforms(30 * 20);

describe('checkpoint and resume', () => {
  for (const optimizer of [{ name: 'adam' }, { name: 'sgd', learningRate: 0.05, momentum: 0.9 }, { name: 'adagrad', learningRate: 0.05 }] as OptimizerConfig[]) {
    it(`${optimizer.name}: resuming from a checkpoint file is bit-identical to an uninterrupted run`, async () => {
      const opts: FitOptions = { batchSize: 32, optimizer, samples: 2, binarize: 'dynamic', klWarmupEpochs: 3, validationData: val };
      const whole = await VAE.create(cfg);
      const full = await whole.fit(data, { ...opts, epochs: 5 });
      const dir = mkdtempSync(join(tmpdir(), 'vae-ckpt-'));
      const path = join(dir, 'model.safetensors');
      const first = await VAE.create(cfg);
      const seen: number[] = [];
      await first.fit(data, { ...opts, epochs: 2, checkpoint: { everyEpochs: 2, path, onCheckpoint: (_, e) => { seen.push(e); } } });
      expect(seen).toEqual([2]);
      expect(readdirSync(dir)).toEqual(['model.safetensors']);
      first.dispose();
      const resumed = await VAE.load(readFileSync(path));
      expect(resumed.epochsTrained).toBe(2);
      expect(resumed.optimizer).toBe(optimizer.name);
      const rest = await resumed.fit(data, { ...opts, epochs: 3 });
      expect(bytesOf(resumed).equals(bytesOf(whole))).toBe(true);
      expect(rest.map((h) => h.valLoss)).toEqual(full.slice(2).map((h) => h.valLoss));
      whole.dispose();
      resumed.dispose();
    });
  }

  it('a checkpoint replaces the previous file only once complete, and rejects bad options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vae-ckpt-'));
    const path = join(dir, 'c.safetensors');
    const m = await VAE.create(cfg);
    const sizes: number[] = [];
    await m.fit(data, { epochs: 3, batchSize: 50, checkpoint: { everyEpochs: 1, path, onCheckpoint: (b) => { sizes.push(b.length); } } });
    expect(sizes).toHaveLength(3);
    expect(readFileSync(path).length).toBe(sizes[2]);
    expect(readdirSync(dir)).toEqual(['c.safetensors']);
    await expect(m.fit(data, { checkpoint: { everyEpochs: 0, path } })).rejects.toThrow(/checkpoint.everyEpochs must be an integer/);
    await expect(m.fit(data, { checkpoint: { everyEpochs: 1 } })).rejects.toThrow(/checkpoint must be given a path or an onCheckpoint/);
    await expect(m.fit(data, { checkpoint: { everyEpochs: 1, every: 2 } as never })).rejects.toThrow(/unknown checkpoint option "every"/);
    expect(existsSync(path)).toBe(true);
    m.dispose();
  });
});

describe('corrupted files', () => {
  it('every flipped byte in the header and many in the data are caught', async () => {
    const m = await VAE.create({ inputDim: 6, latentDim: 2, encoder: [4], seed: 1 });
    await m.fit(new TestRandom(2).uniforms(40 * 6), { epochs: 1, batchSize: 8 });
    const good = m.save();
    await expect(VAE.load(good)).resolves.toBeInstanceOf(VAE);
    const headerEnd = 8 + Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
    const positions = [...Array(headerEnd).keys()];
    const rnd = new TestRandom(3);
    for (let i = 0; i < 200; i++) positions.push(headerEnd + Math.floor(rnd.uniform() * (good.length - headerEnd)));
    let caught = 0;
    for (const pos of positions) {
      const bad = good.slice();
      bad[pos] = bad[pos]! ^ (1 << Math.floor(rnd.uniform() * 8));
      try {
        (await VAE.load(bad)).dispose();
      } catch (e) {
        expect((e as Error).message).toMatch(/^VAE\.load: /);
        caught++;
      }
    }
    expect(caught).toBe(positions.length);
    m.dispose();
  });
});
