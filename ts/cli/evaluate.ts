/** `vae-wasm eval`: a saved VAE's ELBO, importance-weighted bound L_k, their gap, and active units on test data. */
import { VAE, oneHot } from '../index';
import type { EvalPlan } from './args';
import { DatasetError, datasetLabelFiles, head, labelsFor, loadTestImages, readModelFile } from './datasets';

/**
 * A conditional model's condition for the first `used` of the `rows` test rows: their labels, one-hot (--labels, or
 * a named dataset's t10k label file). Undefined for a model without a condition; --labels for one is an error.
 */
function testCondition(vae: VAE, plan: EvalPlan, rows: number, data: string, used: number): { condition: Float32Array; file: string } | undefined {
  const classes = vae.config.conditionDim;
  if (!classes) {
    if (plan.labels !== undefined) throw new DatasetError(`--labels is for a conditional model; ${plan.model} is not conditional (it has no conditionDim)`);
    return undefined;
  }
  const file = plan.labels ?? (plan.testData === undefined ? datasetLabelFiles(plan.dataset)?.test : undefined);
  if (file === undefined) {
    throw new DatasetError(`${plan.model} is a conditional VAE (conditionDim ${classes}): it needs each test row's label; pass --labels <IDX label file> for ${plan.testData ?? plan.dataset}`);
  }
  const labels = labelsFor(file, 'the test labels', rows, data).subarray(0, used);
  const over = labels.findIndex((l) => l >= classes);
  if (over >= 0) throw new DatasetError(`${file} (the test labels): row ${over}'s label is ${labels[over]}, but the model knows ${classes} classes (0–${classes - 1})`);
  return { condition: oneHot(labels, classes), file };
}

export async function evaluate(plan: EvalPlan): Promise<void> {
  const vae = await VAE.load(readModelFile(plan.model));
  try {
    await vae.setThreads(plan.threads);
    const { images: all, label } = loadTestImages(plan.dataset, plan.testData);
    const images = head(all, plan.limit);
    if (images.cols !== vae.config.inputDim) {
      throw new DatasetError(`the data has ${images.cols} values per row; the model expects ${vae.config.inputDim}`);
    }
    const conditional = testCondition(vae, plan, all.rows, label, images.rows);
    const c = conditional ? { condition: conditional.condition } : {};
    const t0 = performance.now();
    const bound = vae.logLikelihood(images.data, { samples: plan.samples, seed: plan.seed, ...c });
    const active = vae.activeUnits(images.data, c);
    const seconds = (performance.now() - t0) / 1000;
    const result = {
      model: plan.model, data: label, rows: images.rows, samples: plan.samples,
      elbo: bound.elbo, logLikelihood: bound.logLikelihood, gap: bound.gap,
      activeUnits: active.count, latentDim: vae.config.latentDim, seconds,
      ...(conditional ? { labels: conditional.file } : {}),
    };
    if (plan.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    process.stdout.write([
      `${images.rows} rows of ${result.data}${conditional ? `, each conditioned on its label (${conditional.file})` : ''}, k = ${plan.samples} importance samples each (${seconds.toFixed(1)} s)`,
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
