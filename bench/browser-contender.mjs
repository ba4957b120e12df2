// One benchmark round for vae-wasm in a browser: Debian's Chromium (playwright-core) or Firefox ESR (puppeteer-core),
// started by tests/engines/drivers.mjs. The same training as vae-wasm-contender.mjs (the built package, MNIST,
// --steps timed after --warmup), on one thread, in a page that is cross-origin isolated or not (--isolated yes|no:
// the shared-memory or the single-memory build). Prints one JSON line.
// Usage: node bench/browser-contender.mjs --browser chromium|firefox --config default|kw --steps N --warmup W --isolated yes|no
import { launch, root, serve } from '../tests/engines/drivers.mjs';
import { arg, CONFIGS, mnistTrainImages } from './mnist.mjs';

const browserName = arg('browser', 'chromium');
const name = arg('config', 'default');
const c = CONFIGS[name];
const steps = Number(arg('steps', 300));
const warmup = Number(arg('warmup', 20));
const isolated = arg('isolated', 'no') === 'yes';
const images = Buffer.from(mnistTrainImages().subarray(0, (warmup + steps) * c.batch * 784));

const page = `<!doctype html><meta charset="utf-8"><script type="module">
  import { VAE } from '/dist/index.js';
  globalThis.run = async (c, steps, warmup) => {
    const images = new Uint8Array(await (await fetch('/images')).arrayBuffer());
    const vae = await VAE.create({ inputDim: 784, latentDim: c.latent, encoder: [c.hidden], activation: c.activation, seed: 1, threads: 1 });
    let t0 = 0, timed = 0, last = 0;
    await vae.fit(images, { epochs: 1, batchSize: c.batch, optimizer: { name: c.optimizer, learningRate: c.learningRate }, shuffle: true,
      onBatchEnd: (b) => { if (b.batch === warmup - 1) t0 = performance.now(); else if (b.batch >= warmup) timed++; last = b.loss; } });
    const seconds = (performance.now() - t0) / 1000;
    const threads = vae.threads;
    vae.dispose();
    return { seconds, timed, last, threads, isolated: crossOriginIsolated };
  };
</script>`;

const server = await serve(root, { isolated, routes: { '/': page, '/images': images } });
const browser = await launch(browserName);
try {
  const tab = await browser.newTab();
  await tab.goto(`${server.base}/`);
  await tab.waitFor(() => 'run' in globalThis);
  const r = await tab.evaluate(({ c, steps, warmup }) => globalThis.run(c, steps, warmup), { c, steps, warmup });
  if (r.timed !== steps) throw new Error(`timed ${r.timed} steps, expected ${steps}`);
  if (r.isolated !== isolated) throw new Error(`the page is ${r.isolated ? '' : 'not '}cross-origin isolated`);
  console.log(JSON.stringify({ contender: browserName, config: name, batch: c.batch, steps, seconds: r.seconds,
    samplesPerSecond: (steps * c.batch) / r.seconds, finalLoss: r.last, threads: r.threads, isolated }));
} finally {
  await browser.close();
  await server.close();
}
