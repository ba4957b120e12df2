#!/usr/bin/env node
// Reading users' data, timed as whole commands with farm-bench (not part of `npm run bench`): decoding folders of
// images and parsing a CSV, each against `noop` (the same process without the work) to take start-up out.
//   node bench/data.mjs make DIR          writes DIR/png (1,000 28×28 grey PNGs), DIR/jpeg (100 256×256 RGB JPEGs),
//                                         DIR/table.csv (50 MB: 8 numeric, 1 binary, 1 categorical column) and
//                                         DIR/big.csv (400 MB, 4 numeric columns: memory stays the encoded table)
//   node bench/data.mjs png|jpeg DIR      loadImages on the folder
//   node bench/data.mjs csv|csv-string|big DIR   loadCsv on table.csv / parseCsv on its text / loadCsv on big.csv
//   node bench/data.mjs noop DIR          imports the package and does nothing
// e.g. farm-bench -n 5 -- node bench/data.mjs png /tmp/d --vs 'node bench/data.mjs noop /tmp/d'
import { mkdirSync, readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { loadCsv, loadImages, parseCsv } from '../dist/index.js';

const [mode, dir] = process.argv.slice(2);
if (!mode || !dir) {
  console.error('usage: node bench/data.mjs make|png|jpeg|csv|csv-string|big|noop DIR');
  process.exit(2);
}

/** A deterministic pseudo-random stream (xorshift32), so every run makes the same files. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

if (mode === 'make') {
  const { PNG } = await import('pngjs');
  const jpeg = (await import('jpeg-js')).default;
  const r = rng(7);
  mkdirSync(join(dir, 'png'), { recursive: true });
  for (let i = 0; i < 1000; i++) {
    const p = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
    p.data = Buffer.from(Array.from({ length: 784 }, (_, j) => (Math.hypot((j % 28) - 14, (j / 28 | 0) - 14) < 4 + (i % 9) ? 255 * r() : 0) | 0));
    writeFileSync(join(dir, 'png', `${String(i).padStart(4, '0')}.png`), PNG.sync.write(p, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false }));
  }
  mkdirSync(join(dir, 'jpeg'), { recursive: true });
  for (let i = 0; i < 100; i++) {
    const data = Buffer.alloc(256 * 256 * 4);
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        const o = (y * 256 + x) * 4;
        data[o] = (x + i * 3 + 20 * r()) & 255; data[o + 1] = (y + 40 * Math.sin(x / 17)) & 255; data[o + 2] = ((x ^ y) + i) & 255; data[o + 3] = 255;
      }
    }
    writeFileSync(join(dir, 'jpeg', `${String(i).padStart(3, '0')}.jpg`), jpeg.encode({ width: 256, height: 256, data }, 90).data);
  }
  const table = (path, bytes, row, header) => {
    const fd = openSync(path, 'w');
    writeSync(fd, header);
    let written = header.length;
    while (written < bytes) {
      let block = '';
      for (let k = 0; k < 10000; k++) block += row();
      writeSync(fd, block);
      written += block.length;
    }
    closeSync(fd);
  };
  const levels = ['north', 'south', 'east', 'west', 'centre', 'coast', 'hills', 'plain', 'city', 'rural'];
  table(join(dir, 'table.csv'), 50e6, () => `${Array.from({ length: 8 }, () => (r() * 1000 - 500).toFixed(3)).join(',')},${r() < 0.5 ? 'yes' : 'no'},${levels[(r() * 10) | 0]}\n`,
    'a,b,c,d,e,f,g,h,flag,region\n');
  table(join(dir, 'big.csv'), 400e6, () => `${(r() * 100).toFixed(4)},${(r() * 10).toFixed(3)},${(r() - 0.5).toFixed(5)},${(r() * 1e4).toFixed(1)}\n`, 'w,x,y,z\n');
} else if (mode === 'png' || mode === 'jpeg') {
  const set = await loadImages(join(dir, mode));
  console.log(JSON.stringify({ shape: set.shape }));
} else if (mode === 'csv' || mode === 'big') {
  const t = await loadCsv(join(dir, mode === 'csv' ? 'table.csv' : 'big.csv'));
  console.log(JSON.stringify({ rows: t.rows, width: t.schema.width, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) }));
} else if (mode === 'csv-string') {
  const t = parseCsv(readFileSync(join(dir, 'table.csv'), 'utf8'));
  console.log(JSON.stringify({ rows: t.rows, width: t.schema.width }));
} else if (mode !== 'noop') {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
