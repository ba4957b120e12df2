/** `vae-wasm eval`: a saved VAE's ELBO, importance-weighted bound L_k, their gap, and active units on test data. */
import { readFileSync } from 'node:fs';
import { VAE } from '../index';
import type { EvalPlan } from './args';
import { DatasetError, head, loadTestImages } from './datasets';

export async function evaluate(plan: EvalPlan): Promise<void> {
  const vae = await VAE.load(readFileSync(plan.model));
  try {
    await vae.setThreads(plan.threads);
    const { images: all, label } = loadTestImages(plan.dataset, plan.testData);
    const images = head(all, plan.limit);
    if (images.cols !== vae.config.inputDim) {
      throw new DatasetError(`the data has ${images.cols} values per row; the model expects ${vae.config.inputDim}`);
    }
    const t0 = performance.now();
    const bound = vae.logLikelihood(images.data, { samples: plan.samples, seed: plan.seed });
    const active = vae.activeUnits(images.data);
    const seconds = (performance.now() - t0) / 1000;
    const result = {
      model: plan.model, data: label, rows: images.rows, samples: plan.samples,
      elbo: bound.elbo, logLikelihood: bound.logLikelihood, gap: bound.gap,
      activeUnits: active.count, latentDim: vae.config.latentDim, seconds,
    };
    if (plan.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    process.stdout.write([
      `${images.rows} rows of ${result.data}, k = ${plan.samples} importance samples each (${seconds.toFixed(1)} s)`,
      `  ELBO (mean log-weight)           ${bound.elbo.toFixed(2)} nats`,
      `  log p(x) ≥ L_${plan.samples}`.padEnd(35) + `${bound.logLikelihood.toFixed(2)} nats`,
      `  gap L_k − ELBO ≈ KL(q ‖ p(z|x))  ${bound.gap.toFixed(2)} nats`,
      `  active units (Var_x E[z_i|x] > 0.01)  ${active.count} of ${vae.config.latentDim}`,
      '',
    ].join('\n'));
  } finally {
    vae.dispose();
  }
}
