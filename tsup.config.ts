import { readFile } from 'node:fs/promises';
import { defineConfig } from 'tsup';

// The wasm core is inlined as bytes (decoded by ts/core/base64.ts, which works in browsers), and fflate (gunzip for
// IDX files) and Papa Parse (CSV) are bundled, so the package works in Node, bundlers and a plain <script type="module"> without serving
// a separate file or resolving bare imports.
//
// Each module's bytes are a /* @__PURE__ */ call, so bundlers drop them from chunks that never load the core: in a
// Vite app whose page only reads IDX files or saves models while a worker trains, only the worker carries the
// modules (tests/bundle.test.ts). esbuild's own 'binary' loader emits an unannotated call, which every chunk keeps.
const base64Decoder = new URL('./ts/core/base64.ts', import.meta.url).pathname;
const pureWasm = {
  name: 'pure-inline-wasm',
  setup(build: { onLoad(o: { filter: RegExp }, f: (a: { path: string }) => Promise<{ contents: string; loader: 'js'; resolveDir: string }>): void }) {
    build.onLoad({ filter: /\.wasm$/ }, async ({ path }) => ({
      contents: `import { decodeBase64 } from ${JSON.stringify(base64Decoder)};\n` +
        `export default /* @__PURE__ */ decodeBase64(${JSON.stringify((await readFile(path)).toString('base64'))});\n`,
      loader: 'js',
      resolveDir: new URL('.', import.meta.url).pathname,
    }));
  },
};

// Papa Parse is a UMD script: bundled as is, esbuild would call its CommonJS wrapper at the top of the module, and
// every chunk of a user's app that imports the package would keep the parser (20 kB). Wrapped as an ES module whose
// one export is a /* @__PURE__ */ call, it is dropped from chunks that never parse a CSV (tests/bundle.test.ts).
const purePapa = {
  name: 'pure-papaparse',
  setup(build: { onLoad(o: { filter: RegExp }, f: (a: { path: string }) => Promise<{ contents: string; loader: 'js' }>): void }) {
    build.onLoad({ filter: /[\\/]papaparse[\\/]papaparse(\.min)?\.js$/ }, async ({ path }) => ({
      contents: 'export default /* @__PURE__ */ (function () {\n  var module = { exports: {} }, exports = module.exports, define;\n' +
        `${await readFile(path, 'utf8')}\n  return module.exports;\n})();\n`,
      loader: 'js',
    }));
  },
};

export default defineConfig([
  {
    entry: { index: 'ts/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    platform: 'neutral',
    target: 'es2022',
    esbuildPlugins: [pureWasm, purePapa],
    noExternal: ['fflate', 'papaparse'],
    sourcemap: false,
    clean: false,
  },
  {
    entry: { cli: 'ts/cli.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    loader: { '.wasm': 'binary' },
    clean: false,
  },
  {
    // Experiments (issue 7): built into experiments/dist (not published), run with node.
    entry: { exercise: 'experiments/exercise.ts', 'pytorch-examples': 'experiments/pytorch-examples.ts', 'kw-figure2': 'experiments/kw-figure2.ts', burda: 'experiments/burda.ts', 'conv-vae': 'experiments/conv-vae.ts', 'conv-vae-seeds': 'experiments/conv-vae-seeds.ts', 'conv-vae-same-draws': 'experiments/conv-vae-same-draws.ts', cvae: 'experiments/cvae.ts', anomaly: 'experiments/anomaly.ts' },
    outDir: 'experiments/dist',
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    loader: { '.wasm': 'binary' },
    clean: false,
  },
]);
