// Images → { data, shape: [n, h, w, c], files }: loadImages (Node: folders and files, PNG by pngjs, JPEG by jpeg-js),
// fromImageData (every environment), the alpha/grey/resize rules against values computed here by hand from the
// documented formulas, and each bad input's error. The browser helpers are tested in Chromium (browser.test.ts).
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../ts/crc32';
import { fromImageData, loadImages, VAE } from '../ts/index';

/** A PNG written by pngjs: `pixels` in the given colour type (0 grey, 2 RGB, 4 grey+alpha, 6 RGBA), 8 or 16 bits. */
function png(width: number, height: number, pixels: number[], colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16 = 8): Buffer {
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colorType];
  const bytes = bitDepth === 8 ? Buffer.from(pixels) : Buffer.alloc(pixels.length * 2);
  if (bitDepth === 16) pixels.forEach((v, i) => bytes.writeUInt16LE(v, 2 * i)); // pngjs takes 16-bit input in platform (little-endian) order
  expect(pixels.length).toBe(width * height * channels);
  const p = new PNG({ width, height, colorType, inputColorType: colorType, bitDepth, inputHasAlpha: colorType >= 4 });
  p.data = bytes;
  return PNG.sync.write(p, { colorType, inputColorType: colorType, bitDepth, inputHasAlpha: colorType >= 4 });
}

/** A palette PNG built chunk by chunk from the specification (pngjs cannot write palettes). */
function palettePng(width: number, height: number, palette: [number, number, number][], indices: number[]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const t = Buffer.from(type, 'latin1');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32([t, data]));
    return Buffer.concat([len, t, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = indices[y * width + x]!;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const dir = (files: Record<string, Buffer | string>) => {
  const d = mkdtempSync(join(tmpdir(), 'vae-images-'));
  for (const [name, bytes] of Object.entries(files)) {
    if (name.endsWith('/')) mkdirSync(join(d, name));
    else writeFileSync(join(d, name), bytes);
  }
  return d;
};
/** Alpha composited on a background, rounded half up: the rule README states. */
const over = (v: number, a: number, bg = 255) => Math.floor((v * a + bg * (255 - a)) / 255 + 0.5);
const luma = (r: number, g: number, b: number) => Math.floor(0.299 * r + 0.587 * g + 0.114 * b + 0.5);

describe('loadImages', () => {
  it('reads a folder in name order, skips what is not an image, and keeps grey images grey', async () => {
    const a = png(2, 2, [0, 50, 100, 255], 0);
    const b = png(2, 2, [10, 255, 20, 128, 30, 0, 40, 64], 4); // grey + alpha
    const c = palettePng(2, 2, [[0, 0, 0], [200, 200, 200]], [1, 0, 0, 1]);
    const d = dir({ 'b.png': b, 'a.png': a, 'c-no-extension': c, 'notes.txt': 'hello', 'labels.csv': 'x\n1\n', 'sub/': '', '.DS_Store': 'x' });
    const set = await loadImages(d);
    expect(set.shape).toEqual([3, 2, 2, 1]);
    expect(set.files).toEqual([join(d, 'a.png'), join(d, 'b.png'), join(d, 'c-no-extension')]);
    expect(set.skipped).toEqual(['.DS_Store', 'labels.csv', 'notes.txt', 'sub/']);
    // Links are followed: to an image, read; to a folder, skipped like one; broken, skipped.
    symlinkSync(join(d, 'a.png'), join(d, 'a-link.png'));
    symlinkSync(join(d, 'sub'), join(d, 'sub-link'));
    symlinkSync(join(d, 'missing.png'), join(d, 'broken.png'));
    const linked = await loadImages(d);
    expect(linked.files).toEqual([join(d, 'a-link.png'), join(d, 'a.png'), join(d, 'b.png'), join(d, 'c-no-extension')]);
    expect(linked.skipped).toEqual(['.DS_Store', 'broken.png', 'labels.csv', 'notes.txt', 'sub-link/', 'sub/']);
    expect(Array.from(set.data)).toEqual([0, 50, 100, 255, 10, over(20, 128), over(30, 0), over(40, 64), 200, 0, 0, 200]);
    // On black instead of white, and alpha dropped.
    expect(Array.from((await loadImages([join(d, 'b.png')], { background: 0 })).data)).toEqual([10, over(20, 128, 0), 0, over(40, 64, 0)]);
    expect(Array.from((await loadImages([join(d, 'b.png')], { background: 'none' })).data)).toEqual([10, 20, 30, 40]);
  });

  it('RGB and RGBA files give three channels (grey files join them as r = g = b); channels: 1 takes BT.601 luma', async () => {
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
    const rgba = [255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 255];
    const d = dir({ '1.png': png(2, 2, rgb, 2), '2.png': png(2, 2, rgba, 6), '3.png': png(2, 2, [7, 8, 9, 10], 0), '4.png': png(2, 2, [0, 1000, 65535, 32896], 0, 16) });
    const set = await loadImages(d);
    expect(set.shape).toEqual([4, 2, 2, 3]);
    const px = (i: number) => Array.from(set.data.subarray(i * 12, i * 12 + 12));
    expect(px(0)).toEqual(rgb);
    expect(px(1)).toEqual([255, 0, 0, over(0, 128), 255, over(0, 128), 255, 255, 255, 10, 20, 30]);
    expect(px(2)).toEqual([7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 10]);
    // 16-bit samples scaled to 8 bits: round(v · 255 / 65535).
    expect(px(3)).toEqual([0, 0, 0, 4, 4, 4, 255, 255, 255, 128, 128, 128]);
    const grey = await loadImages(d, { channels: 1 });
    expect(Array.from(grey.data.subarray(0, 4))).toEqual([luma(255, 0, 0), luma(0, 255, 0), luma(0, 0, 255), luma(10, 20, 30)]);
    expect(Array.from(grey.data.subarray(4, 8))).toEqual([luma(255, 0, 0), luma(over(0, 128), 255, over(0, 128)), 255, luma(10, 20, 30)]);
  });

  it('decodes JPEG (baseline, written by jpeg-js at quality 100) close to the pixels encoded', async () => {
    const w = 32;
    const h = 24;
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) rgba.set([8 * x, 10 * y, 128 + 2 * (x - y), 255], (y * w + x) * 4);
    }
    const d = dir({ 'photo.jpg': Buffer.from(jpeg.encode({ width: w, height: h, data: rgba }, 100).data) });
    const set = await loadImages(d);
    expect(set.shape).toEqual([1, h, w, 3]);
    let worst = 0;
    for (let p = 0; p < w * h; p++) for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(set.data[p * 3 + k]! - rgba[p * 4 + k]!));
    expect(worst).toBeLessThanOrEqual(4);
  });

  it('images of different sizes are an error naming two files, unless size is given', async () => {
    const d = dir({ 'a.png': png(2, 2, [0, 0, 0, 0], 0), 'b.png': png(3, 2, [0, 0, 0, 0, 0, 0], 0) });
    await expect(loadImages(d)).rejects.toThrow(`loadImages: images differ in size: ${join(d, 'a.png')} is 2×2 (width×height), ${join(d, 'b.png')} is 3×2; pass size: [height, width] to resize them all`);
    expect((await loadImages(d, { size: [1, 1] })).shape).toEqual([2, 1, 1, 1]);
  });

  it('every bad file is an error naming it', async () => {
    const good = png(4, 4, Array.from({ length: 16 }, (_, i) => i * 16), 0);
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 20] = corrupt[corrupt.length - 20]! ^ 0xff; // inside IDAT: its CRC no longer matches
    const truncatedPng = good.subarray(0, 40);
    const jpg = Buffer.from(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256).fill(200) }, 90).data);
    const cases: [Record<string, Buffer | string>, RegExp][] = [
      [{ 'x.png': corrupt }, /loadImages: .*x\.png is a corrupt PNG \(.*\)/],
      [{ 'x.png': truncatedPng }, /loadImages: .*x\.png is a corrupt PNG/],
      [{ 'x.jpg': jpg.subarray(0, jpg.length - 30) }, /loadImages: .*x\.jpg is a truncated JPEG \(no end-of-image marker: the file was cut short\)/],
      [{ 'x.jpg': jpg.subarray(0, 60) }, /loadImages: .*x\.jpg: the file ends before the JPEG frame header \(truncated\)/],
      [{ 'x.gif': Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1') }, /loadImages: .*x\.gif is a GIF file; only PNG and JPEG are read/],
      [{ 'x.png': 'not really' }, /x\.png is not a PNG or JPEG file, though its name says image/],
      [{ 'x.png': '' }, /x\.png is not a PNG or JPEG file, though its name says image \(it is empty\)/],
      [{ 'readme.txt': 'hi' }, /loadImages: no PNG or JPEG files in .* \(skipped: readme\.txt\)/],
      [{}, /loadImages: no PNG or JPEG files in /],
    ];
    for (const [files, message] of cases) await expect(loadImages(dir(files)), JSON.stringify(Object.keys(files))).rejects.toThrow(message);
    // A PNG whose header claims more than 100 megapixels is refused before anything is allocated.
    const huge = Buffer.from(good);
    huge.writeUInt32BE(20000, 16);
    huge.writeUInt32BE(20000, 20);
    await expect(loadImages(dir({ 'big.png': huge }))).rejects.toThrow(/big\.png: its header says 20000×20000 pixels; images of 1 to 100 megapixels are read/);
    await expect(loadImages('/nonexistent/folder')).rejects.toThrow('loadImages: no such file or folder: /nonexistent/folder');
    await expect(loadImages([join(dir({ 'a.txt': 'x' }), 'a.txt')])).rejects.toThrow(/a\.txt is not a PNG or JPEG file; only PNG and JPEG are read/);
    await expect(loadImages(dir({ 'a.png': good }), { size: [0, 4] } as never)).rejects.toThrow(/size must be \[height, width\], two integers/);
    await expect(loadImages(dir({ 'a.png': good }), { channels: 4 } as never)).rejects.toThrow(/channels must be 1 \(grey\) or 3 \(RGB\), got 4/);
  });

  it('the set trains a model as it is (shape [n, h, w, c] → inputShape [h, w, c])', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 8; i++) files[`${i}.png`] = png(4, 4, Array.from({ length: 16 }, (_, j) => (i * 31 + j * 17) % 256), 0);
    const set = await loadImages(dir(files));
    const vae = await VAE.create({ inputShape: [4, 4, 1], latentDim: 2, encoder: [8], seed: 1 });
    const [log] = await vae.fit(set, { epochs: 1, batchSize: 4 });
    expect(Number.isFinite(log!.loss)).toBe(true);
    vae.dispose();
  });
});

describe('resizing', () => {
  /** One grey RGBA image from values. */
  const grey = (w: number, h: number, v: number[]) => ({ width: w, height: h, data: Uint8ClampedArray.from(v.flatMap((x) => [x, x, x, 255])) });

  it('shrinking by whole factors averages blocks', () => {
    const v = Array.from({ length: 16 }, (_, i) => (i * 37) % 256);
    const out = fromImageData(grey(4, 4, v), { channels: 1, size: [2, 2] });
    const block = (y: number, x: number) => Math.floor((v[8 * y + 2 * x]! + v[8 * y + 2 * x + 1]! + v[8 * y + 2 * x + 4]! + v[8 * y + 2 * x + 5]!) / 4 + 0.5);
    expect(Array.from(out.data)).toEqual([block(0, 0), block(0, 1), block(1, 0), block(1, 1)]);
  });

  it('shrinking by fractions averages the area covered (checked by sampling a 6× finer grid)', () => {
    const v = [0, 90, 255, 30, 60, 200, 120, 10, 240];
    const out = fromImageData(grey(3, 3, v), { channels: 1, size: [2, 2] });
    // Output pixel (Y, X) covers [1.5Y, 1.5Y + 1.5) × [1.5X, 1.5X + 1.5); 6 sub-samples per pixel side are exact for 3 → 2.
    const want: number[] = [];
    for (let Y = 0; Y < 2; Y++) {
      for (let X = 0; X < 2; X++) {
        let s = 0;
        for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) s += v[Math.floor((9 * Y + i + 0.5) / 6) * 3 + Math.floor((9 * X + j + 0.5) / 6)]!;
        want.push(Math.floor(s / 81 + 0.5));
      }
    }
    expect(Array.from(out.data)).toEqual(want);
  });

  it('shrinking one way while enlarging the other holds only the output rows being summed, not every widened row', () => {
    // 2000 rows × 1 column made 1 row × 65535 columns: holding every widened input row took 2000 × 65535 doubles
    // (1 GB); the output is 64 KB. Every output pixel is the mean of the column.
    const v = Array.from({ length: 2000 }, (_, j) => (j * 7) % 256);
    const peak = process.resourceUsage().maxRSS; // KB
    const out = fromImageData(grey(1, 2000, v), { channels: 1, size: [1, 65535] });
    expect(process.resourceUsage().maxRSS - peak, 'the peak memory grew by more than 300 MB').toBeLessThan(300_000);
    expect(out.shape).toEqual([1, 1, 65535, 1]);
    const mean = Math.floor(v.reduce((a, b) => a + b, 0) / v.length + 0.5);
    expect(out.data.every((x) => x === mean)).toBe(true);
  }, 20_000);

  it('enlarging interpolates linearly between pixel centres, edges clamped', () => {
    const out = fromImageData(grey(2, 1, [0, 200]), { channels: 1, size: [1, 4] });
    // Output centres at input x = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    expect(Array.from(out.data)).toEqual([0, 50, 150, 200]);
    const rgb = fromImageData({ width: 1, height: 2, data: Uint8ClampedArray.from([10, 20, 30, 255, 50, 100, 150, 255]) }, { size: [4, 2] });
    expect(rgb.shape).toEqual([1, 4, 2, 3]);
    expect(Array.from(rgb.data.subarray(0, 6))).toEqual([10, 20, 30, 10, 20, 30]);
    expect(Array.from(rgb.data.subarray(6, 9))).toEqual([20, 40, 60]);
  });
});

describe('fromImageData', () => {
  it('stacks RGBA images (as canvases give them) into RGB by default, grey on request, alpha on white', () => {
    const a = { width: 2, height: 1, data: Uint8ClampedArray.from([255, 0, 0, 255, 0, 0, 255, 0]) };
    const b = { width: 2, height: 1, data: Uint8ClampedArray.from([1, 2, 3, 255, 4, 5, 6, 255]) };
    const set = fromImageData([a, b]);
    expect(set).toEqual({ data: Uint8Array.from([255, 0, 0, 255, 255, 255, 1, 2, 3, 4, 5, 6]), shape: [2, 1, 2, 3], files: ['image 0', 'image 1'] });
    expect(Array.from(fromImageData(a, { channels: 1, background: [0, 0, 0] }).data)).toEqual([luma(255, 0, 0), 0]);
  });

  it('refuses bad input with what was expected', () => {
    const ok = { width: 1, height: 1, data: new Uint8ClampedArray(4) };
    expect(() => fromImageData([])).toThrow('fromImageData: no images given; expected at least one');
    expect(() => fromImageData({ width: 2, height: 2, data: new Uint8ClampedArray(4) })).toThrow('fromImageData: image 0 says 2×2 but holds 4 bytes; expected width × height × 4 (RGBA), sides ≥ 1');
    expect(() => fromImageData([ok, { width: 2, height: 1, data: new Uint8ClampedArray(8) }])).toThrow('fromImageData: images differ in size: image 0 is 1×1 (width×height), image 1 is 2×1; pass size: [height, width] to resize them all');
    expect(() => fromImageData([ok, 'x' as never])).toThrow(/fromImageData: image 1 must be an ImageData or \{ width, height, data: Uint8ClampedArray of RGBA \}/);
    expect(() => fromImageData(ok, { background: 300 } as never)).toThrow(/background must be a grey level 0–255, \[r, g, b\] of levels, or 'none'/);
    expect(() => fromImageData(ok, { colour: 1 } as never)).toThrow('fromImageData: unknown option "colour"; expected one of size, channels, background');
  });
});
