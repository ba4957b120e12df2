// The demo as a user's Vite app would be: `vae-wasm` resolves to the package's built entry (dist/, from `npm run
// build`), not to its sources. Served cross-origin isolated so that training can use worker threads.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: { alias: [{ find: /^vae-wasm$/, replacement: fileURLToPath(new URL('../dist/index.js', import.meta.url)) }] },
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { headers: isolation },
  preview: { headers: isolation },
});
