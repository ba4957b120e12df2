/**
 * Gunzip in bounded steps, for files read whole or in chunks. fflate's `gunzipSync` makes the whole output at once
 * (a .gz of a few MB can hold gigabytes) and reads only the first member of a file of several; here the compressed
 * bytes go in slices of 16 KiB, so one step's output is at most about 17 MB (deflate expands at most 1,032 times),
 * and the caller can stop as soon as it has what it needs.
 *
 * fflate checks neither member's trailer (RFC 1952: the CRC-32 and length of the member's data), so a flipped byte
 * that still inflates, or a file cut within its last 8 bytes, would give wrong data silently; here each member's
 * output is checked against its trailer when the member ends.
 */
import { Gunzip } from 'fflate';
import { crc32Update } from './crc32';

const SLICE = 16 << 10;
/**
 * Compressed bytes kept back, to find a member's trailer: fflate reports a member's end only once the next member's
 * header is whole, and a header may be long (an extra field of up to 64 KiB, a name, a comment).
 */
const KEEP = 1 << 20;
/** fflate ignores up to 3 bytes after the last member (gzip calls them trailing garbage and ignores them too). */
const MAX_TRAILING = 3;

/** Whether bytes start like a gzip file. */
export function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/**
 * The decompressed bytes of the gzip data in `compressed` (its chunks may be reused by their reader after each
 * step), chunk by chunk. Corrupt or cut-off data is an error ("unexpected EOF" for a file that ends too soon); so
 * is a member whose output does not match its trailer, before the chunks that end that member are given out.
 */
export function* gunzipChunks(compressed: Iterable<Uint8Array>): Generator<Uint8Array> {
  const out: Uint8Array[] = [];
  const recent = new RecentBytes(KEEP);
  const member = { index: 1, crc: 0, size: 0 };
  const g = new Gunzip((chunk) => {
    if (chunk.length === 0) return;
    out.push(chunk);
    member.crc = crc32Update(member.crc, chunk);
    member.size = (member.size + chunk.length) >>> 0;
  });
  // Called inside push, after the ended member's last output and before the next member's first.
  g.onmember = (next: number) => {
    const trailer = recent.get(next - 8, next);
    if (!trailer) throw new Error(`gzip member ${member.index + 1}'s header is longer than ${KEEP >> 20} MiB, too long to check the member before it; decompress the file first`);
    checkTrailer(member, [trailer]);
    Object.assign(member, { index: member.index + 1, crc: 0, size: 0 });
  };
  // One slice is held back, so that the last can be pushed as the final one.
  let held: Uint8Array | undefined;
  for (const c of compressed) {
    for (let i = 0; i < c.length; i += SLICE) {
      if (held) {
        g.push(held, false);
        yield* out.splice(0);
      }
      held = c.slice(i, i + SLICE);
      recent.add(held);
    }
  }
  g.push(held ?? new Uint8Array(0), true);
  // The last member's trailer ends the file, or comes up to MAX_TRAILING bytes before its end.
  const candidates: Uint8Array[] = [];
  for (let n = 0; n <= MAX_TRAILING; n++) {
    const t = recent.get(recent.end - 8 - n, recent.end - n);
    if (t) candidates.push(t);
  }
  checkTrailer(member, candidates);
  yield* out.splice(0);
}

/** Throws unless one of the candidate trailers holds the member's CRC-32 and length (mod 2³², little-endian). */
function checkTrailer(member: { index: number; crc: number; size: number }, candidates: Uint8Array[]): void {
  const read = (t: Uint8Array) => {
    const v = new DataView(t.buffer, t.byteOffset, 8);
    return { crc: v.getUint32(0, true), size: v.getUint32(4, true) };
  };
  if (candidates.some((t) => { const r = read(t); return r.crc === member.crc && r.size === member.size; })) return;
  const said = candidates.length > 0 ? read(candidates[0]!) : undefined;
  const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
  throw new Error(`gzip member ${member.index}'s data (CRC-32 ${hex(member.crc)}, ${member.size} bytes) does not match its trailer` +
    `${said ? ` (${hex(said.crc)}, ${said.size} bytes)` : ''}: the file is corrupt or cut off`);
}

/** The last bytes added to a stream (at least `keep` of them), found by their offsets in the stream. */
class RecentBytes {
  private readonly slices: Uint8Array[] = [];
  private start = 0;
  end = 0;

  constructor(private readonly keep: number) {}

  add(b: Uint8Array): void {
    this.slices.push(b);
    this.end += b.length;
    while (this.end - this.start - this.slices[0]!.length >= this.keep) this.start += this.slices.shift()!.length;
  }

  /** Bytes [from, to) of the stream, or undefined if some are no longer (or not yet) kept. */
  get(from: number, to: number): Uint8Array | undefined {
    if (from < this.start || to > this.end || from > to) return undefined;
    const r = new Uint8Array(to - from);
    let at = this.start;
    for (const s of this.slices) {
      const a = Math.max(from, at), b = Math.min(to, at + s.length);
      if (a < b) r.set(s.subarray(a - at, b - at), a - from);
      at += s.length;
    }
    return r;
  }
}
