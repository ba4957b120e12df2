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
  return trained(model, () => model.fit(images.subarray(0, TRAIN_ROWS * PIXELS), {
    epochs: 1, batchSize: 128, samples: 2, binarize: 'dynamic',
    validationData: images.subarray(TRAIN_ROWS * PIXELS, MNIST_ROWS * PIXELS),
  }));
}

/**
 * A small convolutional VAE (conv2d 8 filters 3×3 stride 2 'same', flatten, dense 16, latent 2; dense 7·7·8,
 * reshape, conv2dTranspose 8 filters stride 2, output conv2dTranspose stride 2: the conv layers' window gathers,
 * their fused chunked tasks and weight-gradient partials) trained for 8 steps of 64 MNIST images, then validated.
 * @param {Lib} lib
 * @param {Uint8Array} images at least MNIST_ROWS rows of 784 bytes
 * @param {number} threads
 */
export async function trainConv(lib, images, threads) {
  const model = await convModel(lib, threads);
  return trained(model, () => model.fit(images.subarray(0, 512 * PIXELS), {
    epochs: 1, batchSize: 64, binarize: 'dynamic', validationData: images.subarray(TRAIN_ROWS * PIXELS, (TRAIN_ROWS + 128) * PIXELS),
  }));
}

/**
 * trainConv's model, untrained.
 * @param {Lib} lib
 * @param {number} threads
 */
function convModel(lib, threads) {
  const same = /** @type {const} */ ({ kernelSize: 3, strides: 2, padding: 'same' });
  return lib.VAE.create({
    inputShape: [28, 28, 1], latentDim: 2, seed: 9, threads,
    encoder: [{ type: 'conv2d', filters: 8, ...same }, { type: 'flatten' }, { type: 'dense', units: 16 }],
    decoder: [{ type: 'dense', units: 7 * 7 * 8 }, { type: 'reshape', targetShape: [7, 7, 8] }, { type: 'conv2dTranspose', filters: 8, ...same }],
    output: { type: 'conv2dTranspose', ...same },
  });
}

/**
 * A conditional VAE (784-64-4 with a 10-value one-hot condition joining encoder[0] and decoder[0]) trained with the
 * importance-weighted objective (k = 3: the log-sum-exp in f64 and the normalised weights' gradient) for 8 steps
 * of 64 images, then validated. The labels are made from the row number, so every engine gets the same ones.
 * @param {Lib} lib
 * @param {Uint8Array} images at least MNIST_ROWS rows of 784 bytes
 * @param {number} threads
 */
export async function trainConditional(lib, images, threads) {
  const model = await lib.VAE.create({ inputDim: PIXELS, latentDim: 4, encoder: [64], conditionDim: 10, seed: 13, threads });
  /** @type {(from: number, n: number) => Float32Array} */
  const labels = (from, n) => lib.oneHot(Array.from({ length: n }, (_, i) => ((from + i) * 7) % 10), 10);
  return trained(model, () => model.fit(images.subarray(0, 512 * PIXELS), {
    epochs: 1, batchSize: 64, objective: 'iwae', samples: 3, condition: labels(0, 512),
    validationData: images.subarray(TRAIN_ROWS * PIXELS, (TRAIN_ROWS + 128) * PIXELS), validationCondition: labels(TRAIN_ROWS, 128),
  }));
}

/**
 * Runs `fit` on the model and returns what the engines compare (as trainMnist does), then disposes of the model.
 * @param {Model} model
 * @param {() => Promise<{ loss: number, valLoss?: number }[]>} fit
 */
async function trained(model, fit) {
  try {
    const [log] = await fit();
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
    const set = await overflowFirstLayer(model);
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
 * Steps skipped with onNonFinite: 'skip' on trainConv's model: after 2 ordinary steps its first convolution's
 * weights are scaled by 1e37 (finite), so a batch of real images overflows and ∞ − ∞ makes NaN in the products and
 * the elementwise kernels (exp's clamp is f32x4.min/max, whose NaN payloads differ between engines), while a batch
 * of black images (the convolution sees only zeros) stays finite. Of 4 unshuffled batches (images, black, images,
 * black) fit must skip the 1st and 3rd and apply the others; the weights and the saved file (optimizer state, RNG
 * streams) after them are compared across engines.
 * @param {Lib} lib
 * @param {Uint8Array} images
 * @param {number} threads
 */
export async function skippedSteps(lib, images, threads) {
  const model = await convModel(lib, threads);
  try {
    await model.fit(images.subarray(0, 128 * PIXELS), { epochs: 1, batchSize: 64 });
    const set = await overflowFirstLayer(model);
    const data = new Uint8Array(256 * PIXELS);
    data.set(images.subarray(128 * PIXELS, 192 * PIXELS), 0);
    data.set(images.subarray(192 * PIXELS, 256 * PIXELS), 128 * PIXELS);
    const [log] = await model.fit(data, { epochs: 1, batchSize: 64, shuffle: false, onNonFinite: 'skip' });
    return { skipped: log?.skippedBatches, loss: log?.loss, set, weights: await weightsHash(model), saved: await sha256(model.save()) };
  } finally {
    model.dispose();
  }
}

/**
 * Scales the model's first layer's weights by 1e37 (still finite, so setWeights takes them; the next forward pass
 * on non-zero inputs overflows) and returns the weights' hash.
 * @param {Model} model
 */
async function overflowFirstLayer(model) {
  const weights = model.getWeights();
  const first = weights['encoder.0.weight'];
  if (!first) throw new Error('no tensor encoder.0.weight');
  first.data = first.data.map((v) => v * 1e37);
  model.setWeights(weights);
  return weightsHash(model);
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
