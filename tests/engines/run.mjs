// Runs one workload of ./workload.mjs on the built package (dist/index.js, the package's Node entry) in whichever
// runtime runs this file (Node, Bun, Deno), on the first MNIST training images of the given IDX file, and prints its
// result as one JSON line. Usage: <runtime> tests/engines/run.mjs trainMnist|trainConv|trainConditional|refusedStep|skippedSteps <threads> <train-images-idx3-ubyte>
import { readFileSync } from 'node:fs';
import * as lib from '../../dist/index.js';
import * as work from './workload.mjs';

const [name, threads, file] = process.argv.slice(2);
const workload = { trainMnist: work.trainMnist, trainConv: work.trainConv, trainConditional: work.trainConditional, refusedStep: work.refusedStep, skippedSteps: work.skippedSteps }[name ?? ''];
if (!workload || !file) throw new Error('usage: run.mjs trainMnist|trainConv|trainConditional|refusedStep|skippedSteps <threads> <train-images-idx3-ubyte>');
const idx = readFileSync(file);
const images = new Uint8Array(idx.buffer, idx.byteOffset + 16, work.MNIST_ROWS * 784); // after the IDX header
console.log(JSON.stringify(await workload(lib, images, Number(threads))));
