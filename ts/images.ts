/**
 * Images → what a model reads: `{ data: Uint8Array, shape: [n, h, w, c], files }`, channels last, 0–255 (the core
 * scales by 1/255). This file holds what every environment shares (alpha compositing, grey or RGB, resizing, one
 * set from many images) and the browser helpers; `loadImages` (Node, files and folders) is in ./image-files.
 *
 * The rules, the same in Node and browsers:
 * - Alpha is composited on `background` (default 255, white, as a page shows a transparent image):
 *   v' = (v·a + bg·(255 − a)) / 255. `background: 'none'` drops alpha and keeps the stored colour.
 * - Grey from RGB is ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B (what PIL's "L" and OpenCV use); grey to RGB
 *   repeats the value.
 * - Resizing (`size`), per axis: shrinking averages the area each output pixel covers (exact fractional pixel
 *   weights, like PIL's box filter and OpenCV's INTER_AREA); enlarging interpolates linearly between pixel centres,
 *   edges clamped (OpenCV's INTER_LINEAR, PIL's bilinear when enlarging); equal sides copy.
 * - Values are computed in double precision and rounded half up to 0–255 once, at the end. Only +, −, ×, ÷ are
 *   used, so a given RGBA input gives the same bytes on every engine (browsers' own decoders may differ in the
 *   RGBA they produce from a JPEG; PNG is lossless).
 */
import { checkKeys, checkObject, describe } from './options';

/** Images stacked channels last: `data[((i·h + y)·w + x)·c + k]`. Pass it to `fit`, `encode`, … as is. */
export interface ImageSet {
  data: Uint8Array;
  /** [images, height, width, channels]. */
  shape: [number, number, number, number];
  /** Where each image came from, in order: file paths (Node), File names, or `image 0`, `image 1`, … */
  files: string[];
  /** `loadImages` on a folder: entries that are not PNG or JPEG files (sub-folders end with "/"), not read. */
  skipped?: string[];
}

export interface ImageOptions {
  /** [height, width] to resize every image to (see the file comment). Without it, every image must have the same size. */
  size?: [number, number];
  /**
   * 1 (grey) or 3 (RGB). `loadImages` default: 1 when every file is stored grey (PNG grey or grey+alpha, a palette
   * of greys, a one-component JPEG), else 3. Browser helpers default to 3: browsers decode every file to RGBA.
   */
  channels?: 1 | 3;
  /** Grey level 0–255 or [r, g, b] that transparent pixels are composited on (default 255, white); 'none' drops alpha. */
  background?: number | [number, number, number] | 'none';
}

/** Pixels as RGBA bytes, 4 per pixel, row-major (a canvas's `ImageData`, a decoded PNG or JPEG). */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
}

/** The largest set built in one call: 2 GiB of pixels (what the core's 4 GB memory can hold beside a model). */
export const MAX_IMAGE_BYTES = 2 ** 31;
/** Largest image accepted: 100 megapixels (jpeg-js's default limit), checked from the header before decoding. */
export const MAX_PIXELS = 100_000_000;

export interface ResolvedImageOptions {
  size?: [number, number];
  channels?: 1 | 3;
  background: [number, number, number] | 'none';
}

export function resolveImageOptions(where: string, options: unknown): ResolvedImageOptions {
  if (options === undefined) return { background: [255, 255, 255] };
  checkObject(where, 'options', options);
  const o = options;
  checkKeys(where, o, ['size', 'channels', 'background']);
  const out: ResolvedImageOptions = { background: [255, 255, 255] };
  const side = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
  if (o.size !== undefined) {
    if (!Array.isArray(o.size) || o.size.length !== 2 || !o.size.every(side)) {
      throw new TypeError(`${where}: size must be [height, width], two integers in [1, 65535], got ${describe(o.size)}`);
    }
    out.size = [o.size[0], o.size[1]];
  }
  if (o.channels !== undefined) {
    if (o.channels !== 1 && o.channels !== 3) throw new TypeError(`${where}: channels must be 1 (grey) or 3 (RGB), got ${describe(o.channels)}`);
    out.channels = o.channels;
  }
  const level = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255;
  if (o.background !== undefined) {
    const b = o.background;
    if (b === 'none') out.background = 'none';
    else if (level(b)) out.background = [b as number, b as number, b as number];
    else if (Array.isArray(b) && b.length === 3 && b.every(level)) out.background = [b[0], b[1], b[2]];
    else throw new TypeError(`${where}: background must be a grey level 0–255, [r, g, b] of levels, or 'none' (drop alpha), got ${describe(b)}`);
  }
  return out;
}

/** Row y of an RGBA image → w × channels doubles in `out`: alpha composited (or dropped), grey by BT.601 luma. */
function pixelRow(img: RgbaImage, y: number, channels: number, background: ResolvedImageOptions['background'], out: Float64Array): void {
  const src = img.data;
  const [br, bg, bb] = background === 'none' ? [0, 0, 0] : background;
  for (let x = 0, p = 4 * y * img.width; x < img.width; x++, p += 4) {
    let r = src[p]!;
    let g = src[p + 1]!;
    let b = src[p + 2]!;
    const a = src[p + 3]!;
    if (background !== 'none' && a !== 255) {
      r = (r * a + br * (255 - a)) / 255;
      g = (g * a + bg * (255 - a)) / 255;
      b = (b * a + bb * (255 - a)) / 255;
    }
    if (channels === 1) {
      out[x] = r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      out[3 * x] = r;
      out[3 * x + 1] = g;
      out[3 * x + 2] = b;
    }
  }
}

/**
 * For each of m outputs along an axis of n inputs, the inputs it reads and their weights (summing to 1): the area
 * each output covers when shrinking (m < n), linear between pixel centres when enlarging (m > n).
 */
function axisWeights(n: number, m: number): { from: Int32Array; to: Int32Array; index: Int32Array; weight: Float64Array } {
  const index: number[] = [];
  const weight: number[] = [];
  const from = new Int32Array(m);
  const to = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    from[i] = index.length;
    if (m === n) {
      index.push(i);
      weight.push(1);
    } else if (m < n) {
      // Output i covers [i·n/m, (i+1)·n/m) in input pixels; in units of 1/m that is [i·n, (i+1)·n): exact integers.
      const lo = i * n;
      const hi = lo + n;
      for (let j = Math.floor(lo / m); j * m < hi; j++) {
        index.push(j);
        weight.push((Math.min((j + 1) * m, hi) - Math.max(j * m, lo)) / n);
      }
    } else {
      const x = Math.min(Math.max(((i + 0.5) * n) / m - 0.5, 0), n - 1);
      const j = Math.floor(x);
      const f = x - j;
      index.push(j);
      weight.push(1 - f);
      if (f > 0) {
        index.push(j + 1);
        weight.push(f);
      }
    }
    to[i] = index.length;
  }
  return { from, to, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

/** Doubles → bytes, clamped to 0–255 and rounded half up, into `out` at `offset`. */
function quantise(src: Float64Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    out[offset + i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v + 0.5);
  }
}

/** Without `size`, every image must have the first one's size: the error names both images. */
export function checkSize(where: string, options: ResolvedImageOptions, first: { width: number; height: number; name: string },
  img: { width: number; height: number }, name: string): void {
  if (options.size === undefined && (img.width !== first.width || img.height !== first.height)) {
    throw new RangeError(`${where}: images differ in size: ${first.name} is ${first.width}×${first.height} (width×height), ` +
      `${name} is ${img.width}×${img.height}; pass size: [height, width] to resize them all`);
  }
}

/**
 * Stacks images that are read one at a time (so that only one decoded image is held besides the set): `add` checks
 * the size (or resizes) and writes image i. The first image fixes the size unless `size` is given.
 */
export class ImageStack {
  readonly data: Uint8Array;
  readonly shape: [number, number, number, number];
  constructor(readonly where: string, readonly names: readonly string[], first: { width: number; height: number; name: string },
    channels: 1 | 3, private readonly options: ResolvedImageOptions) {
    const [h, w] = options.size ?? [first.height, first.width];
    const bytes = names.length * h * w * channels;
    if (bytes > MAX_IMAGE_BYTES) {
      throw new RangeError(`${where}: ${names.length} images of ${h}×${w}×${channels} need ${(bytes / 2 ** 30).toFixed(1)} GiB; ` +
        `at most ${MAX_IMAGE_BYTES / 2 ** 30} GiB are read at once: pass fewer images or a smaller size`);
    }
    this.shape = [names.length, h, w, channels];
    this.data = new Uint8Array(bytes);
  }

  /**
   * Writes image i, row by row: only a row of the image (and, when resizing, the image at the output's width) is
   * held in doubles, so a large photo shrunk to 28×28 needs little memory besides its decoded RGBA.
   */
  add(i: number, img: RgbaImage): void {
    const [, H, W, c] = this.shape;
    const { width: w, height: h } = img;
    const offset = i * H * W * c;
    const row = new Float64Array(w * c);
    if (w === W && h === H) {
      for (let y = 0; y < h; y++) {
        pixelRow(img, y, c, this.options.background, row);
        quantise(row, this.data, offset + y * W * c);
      }
      return;
    }
    // Columns first (each image row to W pixels), then rows (h rows to H). Input rows are widened one at a time and
    // added to the output rows they contribute to; an output row is summed from 0 over its input rows in ascending
    // order, and written once its last one is in. Output rows cover ascending, overlapping ranges of input rows, so
    // only the rows open at once are held (a tall image made wide and flat held all h widened rows: 300 × 65535 × 3
    // doubles took 470 MB).
    const ax = axisWeights(w, W);
    const ay = axisWeights(h, H);
    const n = W * c;
    const first = (y: number) => ay.index[ay.from[y]!]!;
    const last = (y: number) => ay.index[ay.to[y]! - 1]!;
    // The most output rows open at once: y and those before it whose last input row is not before y's first.
    let open = 1;
    for (let y = 0, lo = 0; y < H; y++) {
      while (last(lo) < first(y)) lo++;
      open = Math.max(open, y - lo + 1);
    }
    // For each input row j, its terms (the output row and the weight's index), ascending in the output row.
    const uses = new Int32Array(h + 1);
    for (let t = 0; t < ay.index.length; t++) uses[ay.index[t]! + 1]!++;
    for (let j = 0; j < h; j++) uses[j + 1] = uses[j + 1]! + uses[j]!;
    const term = new Int32Array(2 * ay.index.length);
    const fill = uses.slice(0, h);
    for (let y = 0; y < H; y++) for (let t = ay.from[y]!; t < ay.to[y]!; t++) { const q = 2 * fill[ay.index[t]!]!++; term[q] = y; term[q + 1] = t; }
    const sums = new Float64Array(open * n);
    const wide = new Float64Array(n);
    let next = 0; // the first output row not yet written
    for (let j = 0; j < h && next < H; j++) {
      if (uses[j] === uses[j + 1]) continue;
      pixelRow(img, j, c, this.options.background, row);
      wide.fill(0);
      for (let x = 0; x < W; x++) {
        for (let t = ax.from[x]!; t < ax.to[x]!; t++) {
          const s = ax.index[t]! * c;
          const wt = ax.weight[t]!;
          for (let k = 0; k < c; k++) wide[x * c + k] = wide[x * c + k]! + wt * row[s + k]!;
        }
      }
      for (let q = 2 * uses[j]!; q < 2 * uses[j + 1]!; q += 2) {
        const y = term[q]!;
        const o = (y % open) * n;
        if (first(y) === j) sums.fill(0, o, o + n);
        const wt = ay.weight[term[q + 1]!]!;
        for (let k = 0; k < n; k++) sums[o + k] = sums[o + k]! + wt * wide[k]!;
      }
      for (; next < H && last(next) <= j; next++) quantise(sums.subarray((next % open) * n, (next % open + 1) * n), this.data, offset + next * n);
    }
  }

  result(skipped?: string[]): ImageSet {
    return { data: this.data, shape: this.shape, files: [...this.names], ...(skipped ? { skipped } : {}) };
  }
}

function isRgba(v: unknown): v is RgbaImage {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { width?: unknown; height?: unknown; data?: unknown };
  return typeof o.width === 'number' && typeof o.height === 'number' && (o.data instanceof Uint8ClampedArray || o.data instanceof Uint8Array);
}

/** RGBA images (canvas `ImageData`, or `{ width, height, data }` with 4 bytes per pixel) → an ImageSet. */
export function fromImageData(images: RgbaImage | readonly RgbaImage[], options: ImageOptions = {}): ImageSet {
  return stackRgba('fromImageData', images, options, (_, i) => `image ${i}`);
}

function stackRgba(where: string, images: unknown, options: ImageOptions, name: (img: RgbaImage, i: number) => string): ImageSet {
  const opts = resolveImageOptions(where, options);
  const list = Array.isArray(images) ? images : [images];
  if (list.length === 0) throw new RangeError(`${where}: no images given; expected at least one`);
  list.forEach((img, i) => {
    if (!isRgba(img)) throw new TypeError(`${where}: image ${i} must be an ImageData or { width, height, data: Uint8ClampedArray of RGBA }, got ${describe(img)}`);
    const ok = Number.isInteger(img.width) && Number.isInteger(img.height) && img.width >= 1 && img.height >= 1;
    if (!ok || img.data.length !== img.width * img.height * 4) {
      throw new RangeError(`${where}: image ${i} says ${img.width}×${img.height} but holds ${img.data.length} bytes; expected width × height × 4 (RGBA), sides ≥ 1`);
    }
  });
  const imgs = list as RgbaImage[];
  const names = imgs.map(name);
  const first = { width: imgs[0]!.width, height: imgs[0]!.height, name: names[0]! };
  imgs.forEach((img, i) => checkSize(where, opts, first, img, names[i]!));
  const stack = new ImageStack(where, names, first, opts.channels ?? 3, opts);
  imgs.forEach((img, i) => stack.add(i, img));
  return stack.result();
}

/** What a 2-D canvas context gives (HTMLCanvasElement and OffscreenCanvas have it). */
export interface CanvasLike {
  readonly width: number;
  readonly height: number;
  getContext(contextId: '2d', options?: { willReadFrequently?: boolean }): { getImageData(sx: number, sy: number, sw: number, sh: number): RgbaImage } | null;
}

/** An ImageBitmap (or anything a canvas can draw: an <img>, a <video> frame, …) with its size. */
export interface DrawableLike {
  readonly width: number;
  readonly height: number;
}

function canvasPixels(where: string, c: CanvasLike, i: number): RgbaImage {
  const ctx = typeof c === 'object' && c !== null && typeof (c as { getContext?: unknown }).getContext === 'function' ? c.getContext('2d', { willReadFrequently: true }) : null;
  if (!ctx) throw new TypeError(`${where}: canvas ${i} must be an HTMLCanvasElement or OffscreenCanvas with a 2-D context, got ${describe(c)}`);
  return ctx.getImageData(0, 0, c.width, c.height);
}

/** The pixels of canvases (HTMLCanvasElement or OffscreenCanvas, 2-D) → an ImageSet. */
export function fromCanvas(canvases: CanvasLike | readonly CanvasLike[], options: ImageOptions = {}): ImageSet {
  const list = Array.isArray(canvases) ? canvases : [canvases as CanvasLike];
  return stackRgba('fromCanvas', list.map((c, i) => canvasPixels('fromCanvas', c, i)), options, (_, i) => `canvas ${i}`);
}

/** A 2-D canvas of the given size: OffscreenCanvas where there is one (workers too), else a <canvas>. */
interface Scratch {
  getContext(id: '2d', o?: { willReadFrequently?: boolean }): { drawImage(img: unknown, x: number, y: number): void; getImageData(sx: number, sy: number, sw: number, sh: number): RgbaImage } | null;
}
function scratchCanvas(where: string, width: number, height: number): Scratch {
  const g = globalThis as { OffscreenCanvas?: new (w: number, h: number) => unknown; document?: { createElement(t: string): unknown } };
  if (g.OffscreenCanvas) return new g.OffscreenCanvas(width, height) as Scratch;
  if (g.document) {
    const c = g.document.createElement('canvas') as { width: number; height: number };
    c.width = width;
    c.height = height;
    return c as unknown as Scratch;
  }
  throw new Error(`${where}: needs a browser (OffscreenCanvas or a document); in Node use loadImages(paths)`);
}

function bitmapPixels(where: string, b: DrawableLike, i: number): RgbaImage {
  if (typeof b !== 'object' || b === null || !(b.width >= 1) || !(b.height >= 1)) {
    throw new TypeError(`${where}: image ${i} must be an ImageBitmap (or another drawable image) with a size, got ${describe(b)}`);
  }
  const ctx = scratchCanvas(where, b.width, b.height).getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error(`${where}: no 2-D canvas context is available here`);
  ctx.drawImage(b, 0, 0);
  return ctx.getImageData(0, 0, b.width, b.height);
}

/** ImageBitmaps (or <img> elements, video frames: anything a canvas draws) → an ImageSet. */
export function fromImageBitmap(images: DrawableLike | readonly DrawableLike[], options: ImageOptions = {}): ImageSet {
  const list = Array.isArray(images) ? images : [images as DrawableLike];
  return stackRgba('fromImageBitmap', list.map((b, i) => bitmapPixels('fromImageBitmap', b, i)), options, (_, i) => `image ${i}`);
}

/**
 * Image files (File or Blob: an `<input type="file" multiple>`'s `files`, a drop's `dataTransfer.files`) decoded by
 * the browser (createImageBitmap, any format it reads), in the order given → an ImageSet named by the files' names.
 * A file the browser cannot decode is an error naming it.
 */
export async function fromFiles(files: Blob | ArrayLike<Blob>, options: ImageOptions = {}): Promise<ImageSet> {
  const where = 'fromFiles';
  const opts = resolveImageOptions(where, options);
  const g = globalThis as { createImageBitmap?: (b: Blob, o?: object) => Promise<DrawableLike & { close(): void }> };
  if (typeof Blob === 'undefined' || !g.createImageBitmap) throw new Error(`${where}: needs a browser (createImageBitmap); in Node use loadImages(paths)`);
  const list: Blob[] = files instanceof Blob ? [files] : Array.from(files as ArrayLike<Blob>);
  if (list.length === 0) throw new RangeError(`${where}: no files given; expected at least one image file`);
  const names = list.map((f, i) => (typeof (f as { name?: unknown }).name === 'string' ? (f as File).name : `file ${i}`));
  let stack: ImageStack | undefined;
  let first: { width: number; height: number; name: string } | undefined;
  for (const [i, f] of list.entries()) {
    if (!(f instanceof Blob)) throw new TypeError(`${where}: item ${i} must be a File or Blob, got ${describe(f)}`);
    let bitmap: DrawableLike & { close(): void };
    try {
      bitmap = await g.createImageBitmap(f, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    } catch (e) {
      throw new Error(`${where}: ${names[i]} could not be decoded as an image (${(e as Error).message || 'the browser gave no reason'})`);
    }
    try {
      // One decoded image at a time beside the set.
      const px = bitmapPixels(where, bitmap, i);
      first ??= { width: px.width, height: px.height, name: names[i]! };
      checkSize(where, opts, first, px, names[i]!);
      stack ??= new ImageStack(where, names, first, opts.channels ?? 3, opts);
      stack.add(i, px);
    } finally {
      bitmap.close();
    }
  }
  return stack!.result();
}
