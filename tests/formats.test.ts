// File formats: IDX (MNIST's), NumPy's .npy and safetensors (saved models), including malformed input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, idxImages, loadIdx, loadNpy, VAE } from '../ts/index';
import { crc32, crc32Update } from '../ts/crc32';
import { MNIST_DIR } from './helpers';

function idx(dtype: number, shape: number[], payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + payload.length);
  const v = new DataView(out.buffer);
  out.set([0, 0, dtype, shape.length]);
  shape.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(payload, 4 + 4 * shape.length);
  return out;
}

describe('loadIdx', () => {
  it('reads u8, big-endian i32/f32/f64, and gzipped files', () => {
    const u8 = loadIdx(idx(0x08, [2, 3], Uint8Array.from([1, 2, 3, 4, 5, 255])));
    expect(u8).toMatchObject({ dtype: 'uint8', shape: [2, 3] });
    expect([...u8.data]).toEqual([1, 2, 3, 4, 5, 255]);
    const be = new Uint8Array(8);
    new DataView(be.buffer).setInt32(0, -5, false);
    new DataView(be.buffer).setInt32(4, 70000, false);
    expect([...loadIdx(idx(0x0c, [2], be)).data]).toEqual([-5, 70000]);
    const f = new Uint8Array(4);
    new DataView(f.buffer).setFloat32(0, 1.5, false);
    expect([...loadIdx(idx(0x0d, [1], f)).data]).toEqual([1.5]);
    const d = new Uint8Array(8);
    new DataView(d.buffer).setFloat64(0, -2.25, false);
    expect([...loadIdx(idx(0x0e, [1, 1], d)).data]).toEqual([-2.25]);
    const gz = loadIdx(gzipSync(idx(0x08, [1, 2, 2], Uint8Array.from([9, 8, 7, 6]))));
    expect(idxImages(gz)).toEqual({ data: Uint8Array.from([9, 8, 7, 6]), rows: 1, cols: 4 });
  });

  it('reads the real MNIST test images', () => {
    const raw = readFileSync(join(MNIST_DIR, 't10k-images-idx3-ubyte'));
    const img = idxImages(loadIdx(raw));
    expect([img.rows, img.cols]).toEqual([10000, 784]);
    let sum = 0;
    for (let i = 16; i < raw.length; i++) sum += raw[i]!;
    let total = 0;
    for (const v of img.data) total += v;
    expect(total).toBe(sum);
  });

  it('rejects malformed files with clear errors', () => {
    expect(() => loadIdx(new Uint8Array(3))).toThrow(/too short/);
    expect(() => loadIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0]))).toThrow(/bad magic/);
    expect(() => loadIdx(Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 0]))).toThrow(/unknown data type code 0x42/);
    expect(() => loadIdx(Uint8Array.from([0, 0, 8, 0]))).toThrow(/zero dimensions/);
    expect(() => loadIdx(idx(0x08, [2, 3], new Uint8Array(5)))).toThrow(/payload is 5 bytes; the header's shape \[2, 3\] of uint8 needs 6/);
    expect(() => loadIdx(Uint8Array.from([0, 0, 8, 2, 0, 0, 0]))).toThrow(/truncated header/);
    expect(() => loadIdx(idx(0x08, [0xffffffff, 0xffffffff], new Uint8Array(4)))).toThrow(/payload is 4 bytes/);
    expect(() => loadIdx(Uint8Array.from([0x1f, 0x8b, 1, 2, 3]))).toThrow(/corrupt gzip/);
    expect(() => idxImages(loadIdx(idx(0x0c, [1], new Uint8Array(4))))).toThrow(/uint8 or float32/);
  });

  it('decompresses a gzipped file no further than its header declares', () => {
    // The real MNIST test images, gzipped here: the same array as the raw file (output in many chunks).
    const raw = readFileSync(join(MNIST_DIR, 't10k-images-idx3-ubyte'));
    const gz = loadIdx(gzipSync(raw, { level: 1 }));
    expect(gz.shape).toEqual([10000, 28, 28]);
    expect(Buffer.compare(Buffer.from(gz.data as Uint8Array), raw.subarray(16))).toBe(0);
    // A header of 4 bytes of data followed by 64 MB (a 64 kB file): refused once more than 4 bytes have come.
    const bomb = gzipSync(idx(0x08, [2, 2], new Uint8Array(64 << 20)));
    expect(bomb.length).toBeLessThan(1 << 17);
    expect(() => loadIdx(bomb)).toThrow(/loadIdx: payload is more than the 4 bytes the header's shape \[2, 2\] of uint8 needs/);
    // A header declaring 16 GiB is refused before anything of that size is made.
    expect(() => loadIdx(gzipSync(idx(0x0d, [65536, 65536], new Uint8Array(8))))).toThrow(/the header's shape \[65536, 65536\] of float32 is 17179869184 bytes, more than the 2 GiB a gzipped IDX file may declare/);
    // Too little data, a cut-off file, a file of two gzip members (header, then values), a bad header.
    expect(() => loadIdx(gzipSync(idx(0x08, [2, 3], new Uint8Array(5))))).toThrow(/payload is 5 bytes; the header's shape \[2, 3\] of uint8 needs 6/);
    const whole = gzipSync(raw, { level: 1 });
    expect(() => loadIdx(whole.subarray(0, whole.length >> 1))).toThrow(/loadIdx: corrupt gzip data \(unexpected EOF\)/);
    const file = idx(0x08, [1, 3], Uint8Array.from([4, 5, 6]));
    const members = Uint8Array.from([...gzipSync(file.subarray(0, 9)), ...gzipSync(file.subarray(9))]);
    expect([...loadIdx(members).data]).toEqual([4, 5, 6]);
    expect(() => loadIdx(gzipSync(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0])))).toThrow(/bad magic/);
    expect(() => loadIdx(gzipSync(Uint8Array.from([0, 0, 8, 2, 0, 0, 0])))).toThrow(/truncated header/);
  });

  it("checks each gzip member's trailer: data that inflates but differs from what was compressed is an error", () => {
    const raw = readFileSync(join(MNIST_DIR, 't10k-images-idx3-ubyte')).subarray(0, 16 + 300 * 784);
    const file = idx(0x08, [300, 28, 28], raw.subarray(16));
    const corrupt = /loadIdx: corrupt gzip data \(gzip member 1's data \(CRC-32 0x[0-9a-f]{8}, \d+ bytes\) does not match its trailer \(0x[0-9a-f]{8}, \d+ bytes\): the file is corrupt or cut off\)/;
    // Stored (uncompressed) deflate blocks: a flipped pixel still inflates; only the CRC-32 sees it.
    const stored = gzipSync(file, { level: 0 });
    expect(Buffer.compare(Buffer.from(loadIdx(stored).data as Uint8Array), raw.subarray(16))).toBe(0);
    const flipped = Uint8Array.from(stored);
    flipped[stored.length >> 1]! ^= 0x10;
    expect(() => loadIdx(flipped)).toThrow(corrupt);
    // The trailer's CRC-32 or length wrong; the file cut within its trailer (fflate alone accepts all of these).
    const gz = gzipSync(file);
    for (const at of [gz.length - 8, gz.length - 1]) {
      const bad = Uint8Array.from(gz);
      bad[at]! ^= 1;
      expect(() => loadIdx(bad)).toThrow(corrupt);
    }
    for (const cut of [1, 3, 4, 8]) expect(() => loadIdx(gz.subarray(0, gz.length - cut))).toThrow(corrupt);
    // Up to 3 bytes after the last member are ignored, as gzip ignores them.
    for (const extra of [1, 3]) expect(loadIdx(Uint8Array.from([...gz, ...new Uint8Array(extra)])).shape).toEqual([300, 28, 28]);
    // Two members: the first one's trailer is checked when the second begins, even behind a 100 kB header (a
    // file name), which spans several of the 16 KiB slices the compressed bytes go in.
    const [head, rest] = [gzipSync(file.subarray(0, 5000)), gzipSync(file.subarray(5000), { filename: 'n'.repeat(100_000) })];
    expect(Buffer.compare(Buffer.from(loadIdx(Uint8Array.from([...head, ...rest])).data as Uint8Array), raw.subarray(16))).toBe(0);
    const badHead = Uint8Array.from(head);
    badHead[head.length - 5]! ^= 1;
    expect(() => loadIdx(Uint8Array.from([...badHead, ...rest]))).toThrow(corrupt);
    const badRest = Uint8Array.from(rest);
    badRest[rest.length - 5]! ^= 1;
    expect(() => loadIdx(Uint8Array.from([...head, ...badRest]))).toThrow(/gzip member 2's data/);
  });
});

describe('crc32', () => {
  it('matches a bit-at-a-time CRC-32 at every length, offset and split, and the standard check value', () => {
    const bitwise = (b: Uint8Array) => {
      let c = 0xffffffff;
      for (const byte of b) {
        c ^= byte;
        for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (c & 1 ? 0xedb88320 : 0);
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 2654435761) >>> 24);
    for (let n = 0; n <= 40; n++) for (const off of [0, 1, 3, 7]) expect(crc32Update(0, bytes.subarray(off, off + n))).toBe(bitwise(bytes.subarray(off, off + n)));
    for (const cut of [0, 1, 5, 8, 13, 299]) expect(crc32Update(crc32Update(0, bytes.subarray(0, cut)), bytes.subarray(cut))).toBe(bitwise(bytes));
    expect(crc32([bytes.subarray(0, 9), bytes.subarray(9)])).toBe(bitwise(bytes));
    expect(crc32Update(0, new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('safetensors', () => {
  it('matches a file built by hand from the published spec', () => {
    const header = '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}';
    const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
    const file = new Uint8Array(8 + padded.length + 12);
    const v = new DataView(file.buffer);
    v.setBigUint64(0, BigInt(padded.length), true);
    file.set(new TextEncoder().encode(padded), 8);
    [1.5, -2, 3.25].forEach((x, i) => v.setFloat32(8 + padded.length + 4 * i, x, true));
    const decoded = decodeSafetensors(file);
    expect(decoded.metadata).toEqual({ format: 'pt' });
    expect(decoded.tensors.a).toEqual({ dtype: 'F32', shape: [2], data: Float32Array.from([1.5, -2]) });
    expect(decoded.tensors.b!.shape).toEqual([1, 1]);
    const ours = encodeSafetensors({ b: { shape: [1, 1], data: Float32Array.from([3.25]) }, a: { shape: [2], data: Float32Array.from([1.5, -2]) } }, { format: 'pt' });
    expect(Buffer.from(ours).equals(Buffer.from(file))).toBe(true);
  });

  it('rejects truncated, corrupted and hostile files without big allocations', () => {
    const good = encodeSafetensors({ w: { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) } });
    expect(() => decodeSafetensors(good.subarray(0, 5))).toThrow(/shorter than the 8-byte/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 1))).toThrow(/data_offsets outside|not covered|bytes/);
    const hugeHeader = good.slice();
    new DataView(hugeHeader.buffer).setBigUint64(0, 2n ** 60n, true);
    expect(() => decodeSafetensors(hugeHeader)).toThrow(/header length .* exceeds/);
    const make = (header: object, data = new Uint8Array(16)) => {
      const h = new TextEncoder().encode(JSON.stringify(header));
      const f = new Uint8Array(8 + h.length + data.length);
      new DataView(f.buffer).setBigUint64(0, BigInt(h.length), true);
      f.set(h, 8);
      f.set(data, 8 + h.length);
      return f;
    };
    expect(() => decodeSafetensors(make({ w: { dtype: 'F32', shape: [1e12], data_offsets: [0, 16] } }))).toThrow(/needs/);
    expect(() => decodeSafetensors(make({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 1e12] } }))).toThrow(/outside/);
    expect(() => decodeSafetensors(make({ w: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }))).toThrow(/dtype "I64"/);
    expect(() => decodeSafetensors(make({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, v: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }))).toThrow(/overlaps|gap|covered/);
    expect(() => decodeSafetensors(make({ __metadata__: { a: 1 } }))).toThrow(/not a string/);
    const notJson = good.slice();
    notJson[9] = 0xff;
    expect(() => decodeSafetensors(notJson)).toThrow(/not valid UTF-8 JSON/);
  });
});

/** A .npy file as numpy.lib.format writes it: magic, version, little-endian header length, the dict padded to 64. */
function npy(descr: string, shape: number[], payload: Uint8Array, { fortran = false, major = 1 } = {}): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pre = major === 1 ? 10 : 12;
  const len = Math.ceil((pre + dict.length + 1) / 64) * 64 - pre;
  const header = dict.padEnd(len - 1, ' ') + '\n';
  const out = new Uint8Array(pre + len + payload.length);
  out.set([0x93, ...Buffer.from('NUMPY'), major, 0]);
  const v = new DataView(out.buffer);
  if (major === 1) v.setUint16(8, len, true);
  else v.setUint32(8, len, true);
  out.set(Buffer.from(header, 'latin1'), pre);
  out.set(payload, pre + len);
  return out;
}
const le = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('loadNpy', () => {
  it('reads float32, float64, uint8, int8, int32 and bool arrays with their shapes, format versions 1 and 2', () => {
    const f = Float32Array.from([0.5, -1.25, 3, 1e-7, 0, 2]);
    expect(loadNpy(npy('<f4', [2, 3], le(f)))).toEqual({ dtype: 'float32', shape: [2, 3], data: f });
    const d = Float64Array.from([Math.PI, -0]);
    expect(loadNpy(npy('<f8', [2], le(d), { major: 2 }))).toEqual({ dtype: 'float64', shape: [2], data: d });
    expect(loadNpy(npy('|u1', [1, 2, 2], Uint8Array.from([0, 7, 128, 255])))).toEqual({ dtype: 'uint8', shape: [1, 2, 2], data: Uint8Array.from([0, 7, 128, 255]) });
    expect(loadNpy(npy('<i4', [3], le(Int32Array.from([-5, 0, 2 ** 31 - 1])))).data).toEqual(Int32Array.from([-5, 0, 2 ** 31 - 1]));
    expect(loadNpy(npy('|i1', [2], Uint8Array.from([0xff, 1]))).data).toEqual(Int8Array.from([-1, 1]));
    expect(loadNpy(npy('|b1', [2], Uint8Array.from([1, 0])))).toMatchObject({ dtype: 'bool', data: Uint8Array.from([1, 0]) });
    // Bytes at an odd offset inside a larger buffer (as Node's pooled Buffers are) are copied, not misread.
    const file = npy('<f4', [6], le(f));
    const odd = new Uint8Array(file.length + 1);
    odd.set(file, 1);
    expect(loadNpy(odd.subarray(1)).data).toEqual(f);
    expect(loadNpy(file.buffer).data).toEqual(f); // an ArrayBuffer too
  });

  it('is accepted as training data: rows are the first dimension', async () => {
    const arr = loadNpy(npy('<f4', [4, 2, 3], le(Float32Array.from({ length: 24 }, (_, i) => (i % 5) / 5))));
    const vae = await VAE.create({ inputShape: [2, 3, 1], latentDim: 2, encoder: [4], seed: 3 });
    const [log] = await vae.fit(arr, { epochs: 1 });
    expect(Number.isFinite(log!.loss)).toBe(true);
    vae.dispose();
  });

  it('refuses what it cannot read, saying what to do in NumPy', () => {
    const f = le(Float32Array.from([1, 2]));
    const cases: [Uint8Array, RegExp][] = [
      [npy('>f4', [2], f), /loadNpy: the array is big-endian \(>f4\); convert it to little-endian first: np\.save\(path, a\.astype\(a\.dtype\.newbyteorder\('<'\)\)\)/],
      [npy('|O', [2], new Uint8Array(16)), /loadNpy: the array holds Python objects \(dtype object\), which are pickled, not numbers/],
      [npy('<f4', [2, 1], f, { fortran: true }), /loadNpy: the array is in Fortran \(column-major\) order; save it in C order: np\.save\(path, np\.ascontiguousarray/],
      [npy('<c16', [1], new Uint8Array(16)), /loadNpy: dtype <c16 is not read \(float32, float64, uint8, int8, int32 and bool are\)/],
      [npy('<f4', [3], f), /loadNpy: the header's shape \(3\) of float32 needs 12 bytes of data, but the file has 8 \(truncated\)/],
      [npy('<f4', [2], f).subarray(0, 40), /loadNpy: the header says it is \d+ bytes, but the file has 40 bytes in all \(truncated\)/],
      [Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0]), /loadNpy: this is a \.npz archive \(zip\) of several arrays/],
      [Uint8Array.from(Buffer.from('a,b\n1,2\n')), /loadNpy: not a \.npy file \(it must start with \\x93NUMPY\)/],
    ];
    for (const [bytes, message] of cases) expect(() => loadNpy(bytes)).toThrow(message);
    expect(() => loadNpy('x' as never)).toThrow(/loadNpy: bytes must be a Uint8Array or an ArrayBuffer/);
  });
});
