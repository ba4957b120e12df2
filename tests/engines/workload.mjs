// @ts-check
// What every engine runs (Node, Bun, Deno, Chromium, Firefox, WebKit): the same functions, given the package's
// module (`lib`, the built dist/index.js) and MNIST bytes, using only what all of them have (Web Crypto, typed
// arrays), so each test compares one body's results across engines, never two copies of it.

/** @typedef {typeof import('../../ts/index')} Lib */
/** @typedef {import('../../ts/index').VAE} Model */

/** MNIST rows the workloads read: 2,048 to train on (16 batches of 128), then 256 for validation. */
export const TRAIN_ROWS = 2048;
export const MNIST_ROWS = TRAIN_ROWS + 256;
const PIXELS = 784;

/**
 * Lowercase hex SHA-256 of some bytes.
 * @param {Uint8Array} bytes
 */
export async function sha256(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', /** @type {Uint8Array<ArrayBuffer>} */ (bytes));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * SHA-256 of every weight tensor's bytes, in the model's tensor order.
 * @param {Pick<Model, 'getWeights'>} model
 */
export function weightsHash(model) {
  const parts = Object.values(model.getWeights()).map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  const all = new Uint8Array(parts.reduce((s, a) => s + a.length, 0));
  let at = 0;
  for (const a of parts) { all.set(a, at); at += a.length; }
  return sha256(all);
}

/**
 * The default VAE (784-400-20 ReLU, Bernoulli, Adam 1e-3) trained for one epoch of 16 steps on MNIST with dynamic
 * binarization and two ε draws per image, then validated: the weights' hash, the saved file's hash (weights, Adam's
 * moments, both RNG streams), the losses, and the threads that were used (and why not more).
 * @param {Lib} lib
 * @param {Uint8Array} images at least MNIST_ROWS rows of 784 bytes
 * @param {number} threads
 */
export async function trainMnist(lib, images, threads) {
  const model = await lib.VAE.create({ inputDim: PIXELS, latentDim: 20, encoder: [400], seed: 5, threads });
  try {
    const [log] = await model.fit(images.subarray(0, TRAIN_ROWS * PIXELS), {
      epochs: 1, batchSize: 128, samples: 2, binarize: 'dynamic',
      validationData: images.subarray(TRAIN_ROWS * PIXELS, MNIST_ROWS * PIXELS),
    });
    return {
      weights: await weightsHash(model), saved: await sha256(model.save()), loss: log?.loss, valLoss: log?.valLoss,
      threads: model.threads, note: model.threadsNote ?? null,
    };
  } finally {
    model.dispose();
  }
}

/**
 * A step the core refuses: after 4 ordinary steps, the first layer's weights are scaled by 1e37 (still finite), so
 * the next forward pass overflows to ±∞ and ∞ − ∞ makes NaN, which flows through the elementwise kernels (exp's
 * clamp compiles to f32x4.min/max, whose NaN payloads differ between SpiderMonkey and V8/JSC) into the loss and
 * gradients. `fit` must throw and leave the weights and the optimizer state exactly as set.
 * @param {Lib} lib
 * @param {Uint8Array} images
 * @param {number} threads
 */
export async function refusedStep(lib, images, threads) {
  const model = await lib.VAE.create({ inputDim: PIXELS, latentDim: 20, encoder: [400], seed: 5, threads });
  try {
    const train = images.subarray(0, 512 * PIXELS);
    await model.fit(train, { epochs: 1, batchSize: 128 });
    const weights = model.getWeights();
    const first = weights['encoder.0.weight'];
    if (!first) throw new Error('no tensor encoder.0.weight');
    first.data = first.data.map((v) => v * 1e37);
    model.setWeights(weights);
    const set = await weightsHash(model);
    const stateBefore = await optimizerStateHash(lib, model);
    const eps = new Float32Array(8 * 20);
    const grads = model.lossAndGradients(images.subarray(0, 8 * PIXELS), { epsilon: eps });
    let error = null;
    try {
      await model.fit(train, { epochs: 1, batchSize: 128 });
    } catch (e) {
      error = /** @type {Error} */ (e).message;
    }
    return {
      error, unchanged: (await weightsHash(model)) === set && (await optimizerStateHash(lib, model)) === stateBefore,
      lossFinite: Number.isFinite(grads.loss), nanGradients: Object.values(grads.gradients).reduce((n, g) => n + g.filter(Number.isNaN).length, 0),
      weights: set, saved: await sha256(model.save()),
    };
  } finally {
    model.dispose();
  }
}

/**
 * SHA-256 of the optimizer state tensor of the model's saved file.
 * @param {Lib} lib
 * @param {Model} model
 */
async function optimizerStateHash(lib, model) {
  const file = lib.decodeSafetensors(model.save());
  const state = file.tensors['optimizer.state'];
  if (!state) throw new Error('the saved model has no optimizer state');
  return sha256(new Uint8Array(state.data.buffer, state.data.byteOffset, state.data.byteLength));
}
