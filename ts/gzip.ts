/**
 * Gunzip in bounded steps, for files read whole or in chunks. fflate's `gunzipSync` makes the whole output at once
 * (a .gz of a few MB can hold gigabytes) and reads only the first member of a file of several; here the compressed
 * bytes go in slices of 16 KiB, so one step's output is at most about 17 MB (deflate expands at most 1,032 times),
 * and the caller can stop as soon as it has what it needs.
 */
import { Gunzip } from 'fflate';

const SLICE = 16 << 10;

/** Whether bytes start like a gzip file. */
export function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/**
 * The decompressed bytes of the gzip data in `compressed` (its chunks may be reused by their reader after each
 * step), chunk by chunk. Corrupt or cut-off data is an error ("unexpected EOF" for a file that ends too soon).
 */
export function* gunzipChunks(compressed: Iterable<Uint8Array>): Generator<Uint8Array> {
  const out: Uint8Array[] = [];
  const g = new Gunzip((chunk) => {
    if (chunk.length > 0) out.push(chunk);
  });
  // One slice is held back, so that the last can be pushed as the final one.
  let held: Uint8Array | undefined;
  for (const c of compressed) {
    for (let i = 0; i < c.length; i += SLICE) {
      if (held) {
        g.push(held, false);
        yield* out.splice(0);
      }
      held = c.slice(i, i + SLICE);
    }
  }
  g.push(held ?? new Uint8Array(0), true);
  yield* out.splice(0);
}
