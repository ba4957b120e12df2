// One benchmark round for vae-wasm in Debian's Chromium (playwright-core): the same training as
// vae-wasm-contender.mjs (the built package, MNIST, --steps timed after --warmup), on one thread, in a page that is
// cross-origin isolated or not (--isolated yes|no: the shared-memory or the single-memory build). Prints one JSON line.
// Usage: node bench/browser-contender.mjs --config default|kw --steps N --warmup W --isolated yes|no
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';
import { arg, CONFIGS, mnistTrainImages } from './mnist.mjs';

const root = new URL('..', import.meta.url).pathname;
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

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x').pathname;
  const headers = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  if (url === '/') { res.writeHead(200, { 'content-type': 'text/html', ...headers }).end(page); return; }
  if (url === '/images') { res.writeHead(200, { 'content-type': 'application/octet-stream', ...headers }).end(images); return; }
  const path = normalize(join(root, url));
  if (!path.startsWith(join(root, 'dist')) || !existsSync(path)) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': extname(path) === '.js' ? 'text/javascript' : 'application/octet-stream', ...headers }).end(readFileSync(path));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const profile = mkdtempSync(join(tmpdir(), 'vae-bench-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const tab = await context.newPage();
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.waitForFunction(() => 'run' in globalThis);
  const r = await tab.evaluate(({ c, steps, warmup }) => globalThis.run(c, steps, warmup), { c, steps, warmup });
  if (r.timed !== steps) throw new Error(`timed ${r.timed} steps, expected ${steps}`);
  if (r.isolated !== isolated) throw new Error(`the page is ${r.isolated ? '' : 'not '}cross-origin isolated`);
  console.log(JSON.stringify({ contender: 'chromium', config: name, batch: c.batch, steps, seconds: r.seconds,
    samplesPerSecond: (steps * c.batch) / r.seconds, finalLoss: r.last, threads: r.threads, isolated }));
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
