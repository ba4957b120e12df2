import { defineConfig } from 'tsup';

// The wasm core is inlined as bytes (platform 'neutral' keeps the base64 decoder browser-safe), and fflate (gunzip
// for IDX files) is bundled, so the package works in Node, bundlers and a plain <script type="module"> without
// serving a separate file or resolving bare imports.
export default defineConfig([
  {
    entry: { index: 'ts/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    platform: 'neutral',
    target: 'es2022',
    loader: { '.wasm': 'binary' },
    noExternal: ['fflate'],
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
    entry: { exercise: 'experiments/exercise.ts', 'pytorch-examples': 'experiments/pytorch-examples.ts', 'kw-figure2': 'experiments/kw-figure2.ts', burda: 'experiments/burda.ts' },
    outDir: 'experiments/dist',
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    loader: { '.wasm': 'binary' },
    clean: false,
  },
]);
