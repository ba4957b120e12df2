// File formats: IDX (MNIST's) and safetensors (saved models), including malformed input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, idxImages, loadIdx } from '../ts/index';
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
