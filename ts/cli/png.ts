/** Image grids (grey or RGB) as PNG (pngjs). */
import { PNG } from 'pngjs';

/**
 * `count` images of h×w×channels values in [0, 1] (row-major, channels last, one after another) laid out `cols`
 * per row with `pad` pixels between them, each pixel scaled up `scale` times.
 */
export function imageGridPng(images: ArrayLike<number>, count: number, h: number, w: number, cols: number,
  { pad = 2, scale = 2, channels = 1 }: { pad?: number; scale?: number; channels?: number } = {}): Uint8Array {
  const rows = Math.ceil(count / cols);
  const width = (cols * (w + pad) + pad) * scale;
  const height = (rows * (h + pad) + pad) * scale;
  const c = channels === 3 ? 3 : 1;
  const colorType = c === 3 ? 2 : 0;
  const png = new PNG({ width, height, colorType, inputColorType: colorType, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.alloc(width * height * c, 40);
  for (let k = 0; k < count; k++) {
    const ox = pad + (k % cols) * (w + pad);
    const oy = pad + Math.floor(k / cols) * (h + pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          const v = Math.round(Math.min(1, Math.max(0, images[((k * h + y) * w + x) * channels + ch]!)) * 255);
          for (let sy = 0; sy < scale; sy++) {
            const row = ((oy + y) * scale + sy) * width;
            for (let sx = 0; sx < scale; sx++) png.data[(row + (ox + x) * scale + sx) * c + ch] = v;
          }
        }
      }
    }
  }
  return PNG.sync.write(png, { colorType, inputColorType: colorType, bitDepth: 8, inputHasAlpha: false });
}

/** A sensible h×w for a row of `dim` values: 28×28 for 784, else the most square factorisation. */
export function imageShapeFor(dim: number): [number, number] {
  let h = Math.floor(Math.sqrt(dim));
  while (dim % h !== 0) h--;
  return [h, dim / h];
}
