// Makes docs/images/demo.png, the README picture of the demo (run after `npm run demo:build`):
// serves demo/dist cross-origin isolated, trains a 2-D latent model for N steps (default 2000) and screenshots it.
// Usage: node scripts/demo-screenshot.mjs [steps]  (playwright-core comes from tests/: node scripts/deps.mjs tests)
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { join, normalize, extname } from 'node:path';
const { chromium } = createRequire(new URL('../tests/package.json', import.meta.url))('playwright-core');
const site = new URL('../demo/dist', import.meta.url).pathname;
const T = { '.js': 'text/javascript', '.html': 'text/html', '.css': 'text/css' };
const server = createServer((req, res) => {
  let p = normalize(join(site, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  if (p.endsWith('/')) p = join(p, 'index.html');
  if (!existsSync(p)) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': T[extname(p)] ?? 'application/octet-stream', 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }).end(readFileSync(p));
}).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const ctx = await chromium.launchPersistentContext(mkdtempSync('/tmp/shot-'), { executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 1180 }, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
const page = await ctx.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/?latent=2&steps=${process.argv[2] ?? 1500}&autostart=1&seed=1`);
await page.waitForFunction(() => window.__demo.done, undefined, { timeout: 300000 });
await page.waitForTimeout(500);
await page.screenshot({ path: '/work/main/docs/images/demo.png', fullPage: true });
console.log(await page.evaluate(() => ({ step: window.__demo.step, threads: window.__demo.threads, speed: document.getElementById('speed').textContent })));
await ctx.close(); server.close();
