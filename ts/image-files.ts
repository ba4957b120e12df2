/**
 * PNG and JPEG files → an ImageSet, in Node (`loadImages`). PNG is decoded by pngjs (already the CLI's PNG writer),
 * JPEG by jpeg-js (pure JavaScript, no dependencies, with limits on resolution and memory). Both, and node:fs, are
 * imported on first use (./node.ts), so that browser bundles never try to resolve them. The format comes from the
 * bytes (signatures), never the file name.
 */
import { checkSize, ImageStack, type ImageOptions, type ImageSet, MAX_PIXELS, resolveImageOptions, type RgbaImage } from './images';
import { nodeFs, nodeImport } from './node';
import { describe } from './options';

export type ImageFormat = 'png' | 'jpeg';

/** PNG or JPEG from the first bytes, else undefined. */
export function imageFormat(b: Uint8Array): ImageFormat | undefined {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Other image formats, named in errors: a .gif in a folder of PNGs is a mistake, not a file to skip. */
function otherImageFormat(b: Uint8Array, name: string): string | undefined {
  const s = String.fromCharCode(...b.subarray(0, 12));
  if (s.startsWith('GIF8')) return 'GIF';
  if (s.startsWith('BM')) return 'BMP';
  if (s.startsWith('RIFF') && s.slice(8, 12) === 'WEBP') return 'WebP';
  if (s.startsWith('II*\0') || s.startsWith('MM\0*')) return 'TIFF';
  if (/\.(png|jpe?g|gif|bmp|webp|tiff?|avif|heic)$/i.test(name)) return 'not an image';
  return undefined;
}

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** Stored grey: PNG colour types 0 and 4, a palette of greys, a one-component JPEG. */
  grey: boolean;
}

const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

/** Size and colour type from the PNG's IHDR (and PLTE for palettes); undefined when more bytes are needed. */
function pngHeader(b: Uint8Array): ImageHeader | undefined | string {
  if (b.length < 33) return undefined;
  if (String.fromCharCode(...b.subarray(12, 16)) !== 'IHDR') return 'the first chunk is not IHDR';
  const width = u32(b, 16);
  const height = u32(b, 20);
  const type = b[25]!;
  if (type === 0 || type === 4) return { format: 'png', width, height, grey: true };
  if (type !== 3) return { format: 'png', width, height, grey: false };
  // Palette: grey when every entry has r = g = b.
  for (let at = 8; at + 8 <= b.length;) {
    const len = u32(b, at);
    const kind = String.fromCharCode(...b.subarray(at + 4, at + 8));
    if (kind === 'PLTE') {
      if (at + 8 + len > b.length) return undefined;
      let grey = true;
      for (let i = at + 8; i + 2 < at + 8 + len; i += 3) if (b[i] !== b[i + 1] || b[i] !== b[i + 2]) grey = false;
      return { format: 'png', width, height, grey };
    }
    if (kind === 'IDAT' || kind === 'IEND') return 'a palette image without a PLTE chunk';
    at += 12 + len;
  }
  return undefined;
}

/** Size and component count from the JPEG's SOFn marker; undefined when more bytes are needed. */
function jpegHeader(b: Uint8Array): ImageHeader | undefined | string {
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return `no JPEG marker at byte ${at}`;
    const marker = b[at + 1]!;
    if (marker === 0xff) { at++; continue; }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { at += 2; continue; }
    if (marker === 0xd9 || marker === 0xda) return 'no frame header (SOF) before the image data';
    const len = (b[at + 2]! << 8) | b[at + 3]!;
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (at + 10 > b.length) return undefined;
      const height = (b[at + 5]! << 8) | b[at + 6]!;
      const width = (b[at + 7]! << 8) | b[at + 8]!;
      return { format: 'jpeg', width, height, grey: b[at + 9] === 1 };
    }
    at += 2 + len;
  }
  return undefined;
}

/** The header of a PNG or JPEG file's bytes, or an error message. `complete`: these are all the file's bytes. */
export function imageHeader(b: Uint8Array, complete: boolean): ImageHeader | string | undefined {
  const format = imageFormat(b);
  const h = format === 'png' ? pngHeader(b) : format === 'jpeg' ? jpegHeader(b) : 'not a PNG or JPEG file';
  if (h === undefined && complete) return format === 'png' ? 'the file ends before the PNG palette' : 'the file ends before the JPEG frame header (truncated)';
  if (typeof h === 'object' && (h.width < 1 || h.height < 1 || h.width * h.height > MAX_PIXELS)) {
    return `its header says ${h.width}×${h.height} pixels; images of 1 to ${MAX_PIXELS / 1e6} megapixels are read`;
  }
  return h;
}

interface Decoders {
  PNG: { sync: { read(b: Uint8Array): RgbaImage } };
  jpeg: (b: Uint8Array, o: object) => RgbaImage;
}

let decoders: Promise<Decoders> | undefined;
function loadDecoders(): Promise<Decoders> {
  decoders ??= Promise.all([nodeImport<{ PNG?: unknown; default?: { PNG: unknown } }>('pngjs'), nodeImport<{ decode?: unknown; default?: { decode: unknown } }>('jpeg-js')])
    .then(([p, j]) => ({ PNG: (p.PNG ?? p.default!.PNG) as Decoders['PNG'], jpeg: (j.decode ?? j.default!.decode) as Decoders['jpeg'] }));
  return decoders;
}

/** The file's end: a JPEG without an end-of-image marker after its last scan was cut short. */
function jpegTruncated(b: Uint8Array): boolean {
  let end = b.length - 1;
  while (end > 1 && b[end] === 0) end--; // some writers pad with zeros
  for (let i = end - 1; i >= Math.max(0, end - 4096); i--) if (b[i] === 0xff && b[i + 1] === 0xd9) return false;
  return true;
}

function decode(d: Decoders, file: string, b: Uint8Array, h: ImageHeader): RgbaImage {
  let img: RgbaImage;
  if (h.format === 'png') {
    try {
      img = d.PNG.sync.read(b);
    } catch (e) {
      throw new Error(`loadImages: ${file} is a corrupt PNG (${(e as Error).message}); re-export it or remove it from the folder`);
    }
  } else {
    if (jpegTruncated(b)) throw new Error(`loadImages: ${file} is a truncated JPEG (no end-of-image marker: the file was cut short); re-download or remove it`);
    try {
      img = d.jpeg(b, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 2048 });
    } catch (e) {
      throw new Error(`loadImages: ${file} is a corrupt JPEG (${(e as Error).message}); re-export it or remove it from the folder`);
    }
  }
  if (img.width !== h.width || img.height !== h.height) {
    throw new Error(`loadImages: ${file} decoded to ${img.width}×${img.height} but its header says ${h.width}×${h.height}`);
  }
  return img;
}

const HEAD = 1 << 16;

/**
 * Reads PNG and JPEG files into one set (`{ data, shape: [n, h, w, c], files }`), decoding one file at a time.
 *
 * `source` is a folder or a list of files. A folder's entries are read in code-point order of their names (as
 * `LC_ALL=C ls`): PNG and JPEG files (known by their bytes, whatever their names) are read; other files and
 * sub-folders are skipped and listed in `skipped`; a file named like an image that is not a PNG or JPEG (a GIF, a
 * text file called x.png) is an error. Files given in a list must all be PNG or JPEG. Without `size`, images of
 * different sizes are an error naming two of them, before any is decoded. Rules for alpha, grey and resizing:
 * ./images.ts (the same as the browser helpers').
 */
export async function loadImages(source: string | readonly string[], options: ImageOptions = {}): Promise<ImageSet> {
  const where = 'loadImages';
  const opts = resolveImageOptions(where, options);
  const fs = (await nodeFs<typeof import('node:fs')>(where, 'fromFiles(input.files) or fromImageData')).promises;
  let files: string[];
  const skipped: string[] = [];
  let folder = false;
  if (typeof source === 'string') {
    const st = await fs.stat(source).catch(() => { throw new Error(`${where}: no such file or folder: ${source}`); });
    if (st.isDirectory()) {
      folder = true;
      const entries = (await fs.readdir(source, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      files = [];
      for (const e of entries) {
        const path = `${source.replace(/\/+$/, '')}/${e.name}`;
        // A link is followed to see what it names: a folder (or a broken link) is skipped like a sub-folder.
        const target = e.isSymbolicLink() ? await fs.stat(path).catch(() => undefined) : e;
        if (e.isDirectory() || target?.isDirectory()) skipped.push(`${e.name}/`);
        else if (e.name.startsWith('.') || !target?.isFile()) skipped.push(e.name);
        else files.push(path);
      }
    } else {
      files = [source];
    }
  } else if (Array.isArray(source) && source.every((s) => typeof s === 'string')) {
    files = [...source];
  } else {
    throw new TypeError(`${where}: source must be a folder, a file path or an array of file paths, got ${describe(source)}`);
  }

  // Headers first (the first 64 KB of each file, or all of it): sizes, colour types, what to skip.
  const headers: ImageHeader[] = [];
  const read: string[] = [];
  for (const file of files) {
    let head: Uint8Array;
    let complete: boolean;
    try {
      const fd = await fs.open(file, 'r');
      try {
        const buf = new Uint8Array(HEAD);
        const { bytesRead } = await fd.read(buf, 0, HEAD, 0);
        head = buf.subarray(0, bytesRead);
        complete = bytesRead < HEAD;
      } finally {
        await fd.close();
      }
    } catch (e) {
      throw new Error(`${where}: cannot read ${file} (${(e as Error).message})`);
    }
    if (!imageFormat(head)) {
      const other = otherImageFormat(head, file);
      const kind = other === 'not an image' ? 'is not a PNG or JPEG file, though its name says image' : other ? `is a ${other} file` : undefined;
      if (folder && kind === undefined) { skipped.push(file.slice(file.lastIndexOf('/') + 1)); continue; }
      throw new Error(`${where}: ${file} ${kind ?? 'is not a PNG or JPEG file'}${head.length === 0 ? ' (it is empty)' : ''}; only PNG and JPEG are read: convert it, or remove it`);
    }
    let h = imageHeader(head, complete);
    if (h === undefined) h = imageHeader(await fs.readFile(file), true);
    if (typeof h === 'string' || h === undefined) throw new Error(`${where}: ${file}: ${h ?? 'unreadable header'}`);
    if (read.length > 0) checkSize(where, opts, { width: headers[0]!.width, height: headers[0]!.height, name: read[0]! }, h, file);
    headers.push(h);
    read.push(file);
  }
  if (read.length === 0) {
    throw new Error(`${where}: no PNG or JPEG files ${folder ? `in ${source as string}${skipped.length ? ` (skipped: ${skipped.slice(0, 5).join(', ')}${skipped.length > 5 ? ', …' : ''})` : ''}` : 'given'}`);
  }
  const channels = opts.channels ?? (headers.every((h) => h.grey) ? 1 : 3);
  const first = { width: headers[0]!.width, height: headers[0]!.height, name: read[0]! };
  const stack = new ImageStack(where, read, first, channels, opts);
  const d = await loadDecoders();
  for (const [i, file] of read.entries()) {
    const bytes = await fs.readFile(file).catch((e: Error) => { throw new Error(`${where}: cannot read ${file} (${e.message})`); });
    stack.add(i, decode(d, file, bytes, headers[i]!));
  }
  return stack.result(folder ? skipped.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : undefined);
}
