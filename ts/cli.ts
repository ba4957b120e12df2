#!/usr/bin/env node
/**
 * `vae-wasm eval` reports a saved VAE's ELBO, L_k bound, gap and active units (ts/cli/evaluate.ts).
 * `vae-wasm score` writes anomaly scores of new rows under a saved model, flagged above a threshold (ts/cli/score.ts).
 * `vae-wasm train`: trains a VAE or autoencoder (by default the pytorch/examples VAE on MNIST) with a progress bar
 * per epoch, and writes model.safetensors, metrics.jsonl, reconstructions.png and samples.png. Flags: ts/cli/args.ts.
 * Exit codes: 0 done, 1 runtime or data error, 2 invalid flags, 130 interrupted (outputs of finished epochs written).
 */
import { createRequire } from 'node:module';
import { CommanderError } from 'commander';
import { buildProgram } from './cli/args';
import { evaluate } from './cli/evaluate';
import { score } from './cli/score';
import { train } from './cli/train';

function version(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// Ctrl-C once: stop after the current batch and still write the outputs; twice: quit at once.
const stop = new AbortController();
process.once('SIGINT', () => {
  process.stderr.write('\nvae-wasm: stopping after this batch (Ctrl-C again to quit now)\n');
  stop.abort();
  process.once('SIGINT', () => process.exit(130));
});

const program = buildProgram(async (plan) => { await train(plan, stop.signal); }, version(), evaluate, score);
try {
  await program.parseAsync(process.argv);
  process.exitCode = stop.signal.aborted ? 130 : 0;
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode); // commander has printed the message
  process.stderr.write(`vae-wasm: ${(e as Error).message}\n`);
  process.exit(1);
}
