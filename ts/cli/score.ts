/**
 * `vae-wasm score`: anomaly scores of new rows under a saved model (VAE or autoencoder), a threshold, and which
 * columns (or pixels) make each row unusual; written as CSV (row, score, flagged, top columns).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Papa from 'papaparse';
import { Autoencoder, VAE, threshold } from '../index';
import { decodeSafetensors } from '../safetensors';
import type { ScoreOptions } from '../types';
import type { ScorePlan } from './args';
import { DatasetError, loadOwnData, type OwnData, readModelFile, sniffFormat } from './datasets';
import { writeAtomic } from './write';

async function loadAnyModel(path: string): Promise<VAE | Autoencoder> {
  const bytes = readModelFile(path);
  let kind: string | undefined;
  try {
    kind = decodeSafetensors(bytes).metadata.kind;
  } catch (e) {
    throw new DatasetError(`--model ${path} is not a model file (${(e as Error).message}); pass a model.safetensors written by vae-wasm train or model.save()`);
  }
  return kind === 'autoencoder' ? Autoencoder.load(bytes) : VAE.load(bytes);
}

/** The rows of `path` as the model reads them (a table with the model's schema), checked against its input size. */
async function rowsFor(model: VAE | Autoencoder, path: string): Promise<OwnData> {
  // A table would be scaled by its own columns' statistics, which need not be those of the model's training data.
  if (model.schema === undefined && sniffFormat(path) === 'csv') {
    throw new DatasetError(`${path} is a table (CSV), but the model has no table schema (it was not trained on a CSV), so how its values were scaled is unknown; give the rows as the model reads them (a .npy array)`);
  }
  const data = await loadOwnData(path, model.schema);
  if (data.table === undefined && model.schema !== undefined) throw new DatasetError(`${path} is ${data.format}, but the model was trained on a table (CSV)`);
  if (data.rows.cols !== model.config.inputDim) throw new DatasetError(`${path} has ${data.rows.cols} values per row; the model reads ${model.config.inputDim}`);
  return data;
}

/** Refuses an --out that cannot take the scores: a folder, or one of the files the command reads (the scores would
 * replace it), also through another path to the same file. */
function checkOut(plan: ScorePlan): void {
  if (existsSync(plan.out) && statSync(plan.out).isDirectory()) throw new DatasetError(`--out ${plan.out} is a folder; give the path of the CSV to write`);
  const same = (a: string, b: string) => {
    if (resolve(a) === resolve(b)) return true;
    if (!existsSync(a) || !existsSync(b)) return false;
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  };
  for (const [flag, path] of [['--model', plan.model], ['--data', plan.data], ['--reference', plan.reference]] as const) {
    if (path !== undefined && same(plan.out, path)) throw new DatasetError(`--out ${plan.out} is the ${flag} file: the scores would replace it; give another --out`);
  }
}

export async function score(plan: ScorePlan, log: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<void> {
  checkOut(plan);
  const model = await loadAnyModel(plan.model);
  try {
    await model.setThreads(plan.threads);
    const isVae = model instanceof VAE;
    const method = plan.method ?? (isVae ? 'elbo' : 'reconstruction');
    if (!isVae && method !== 'reconstruction') throw new DatasetError(`--method ${method} needs a VAE; ${plan.model} holds an autoencoder (its score is the reconstruction term)`);
    const options: ScoreOptions = { method, seed: plan.seed, ...(plan.samples !== undefined ? { samples: plan.samples } : {}) };
    const data = await rowsFor(model, plan.data);
    const t0 = performance.now();
    const result = model.score(data.rows.data, options);
    let cut: number;
    let how: string;
    if (plan.threshold !== undefined) {
      cut = plan.threshold;
      how = 'given';
    } else if (plan.reference !== undefined) {
      const ref = await rowsFor(model, plan.reference);
      cut = threshold(model.score(ref.rows.data, options).scores, { quantile: plan.quantile });
      how = `the ${plan.quantile} quantile of ${ref.rows.rows} rows of ${plan.reference}`;
    } else {
      cut = threshold(result.scores, { quantile: plan.quantile });
      how = `the ${plan.quantile} quantile of these rows' own scores; --reference normal-rows sets it from normal data`;
    }
    const seconds = (performance.now() - t0) / 1000;
    const n = data.rows.rows;
    const width = result.perColumn.length / n;
    const names = result.columns ?? (data.imageShape ? pixelNames(data.imageShape) : Array.from({ length: width }, (_, j) => `value${j + 1}`));
    const top = (r: number): string[] => {
      const shares = result.perColumn.subarray(r * width, (r + 1) * width);
      return [...shares.keys()].sort((a, b) => shares[b]! - shares[a]! || a - b).slice(0, plan.top).map((j) => `${names[j]} (${shares[j]!.toFixed(2)})`);
    };
    const rowName = (r: number) => data.names?.[r] ?? String(r + 1);
    const flagged = Array.from(result.scores, (s) => s > cut);
    const lines = Papa.unparse({
      fields: ['row', 'score', 'flagged', 'top_columns'],
      data: Array.from(result.scores, (s, r) => [rowName(r), s.toFixed(4), flagged[r] ? 1 : 0, top(r).join('; ')]),
    }, { newline: '\n' });
    writeAtomic(plan.out, `${lines}\n`);
    const count = flagged.filter(Boolean).length;
    log(`vae-wasm: scored ${n} rows of ${data.label} with ${method === 'elbo' ? '−ELBO' : method === 'logLikelihood' ? '−L_k' : 'the reconstruction term'}` +
      `${options.samples !== undefined ? ` (${options.samples} samples)` : ''} in ${seconds.toFixed(1)} s; threshold ${cut.toFixed(3)} (${how}); ${count} flagged`);
    const worst = [...result.scores.keys()].sort((a, b) => result.scores[b]! - result.scores[a]!).slice(0, 5);
    for (const r of worst) log(`vae-wasm:   row ${rowName(r)}: ${result.scores[r]!.toFixed(2)}${flagged[r] ? ' (flagged)' : ''}, mostly ${top(r).join(', ')}`);
    log(`vae-wasm: wrote ${plan.out}`);
  } finally {
    model.dispose();
  }
}

/** "y3x14c0"-style names for the values of an image row (channels last). */
function pixelNames([h, w, c]: [number, number, number]): string[] {
  const out: string[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out.push(c === 1 ? `pixel(${y},${x})` : `pixel(${y},${x},${k})`);
  return out;
}
