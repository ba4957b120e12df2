/**
 * Browser conveniences for saved models (the bytes of `save()`): offer them as a download, read them back from a
 * file the user picks, and keep them in IndexedDB across reloads. They touch DOM APIs only when called, so
 * importing the package in Node is unaffected.
 */
import { toBytes } from './data';
import type { BytesInput } from './types';

/** Starts a download of the bytes (e.g. `model.save()`) as `filename`. */
export function downloadModel(bytes: BytesInput, filename = 'model.safetensors'): void {
  if (typeof document === 'undefined') throw new Error('downloadModel: needs a browser document (in Node, write the bytes with fs)');
  const data = toBytes('downloadModel', 'bytes', bytes, 'e.g. the output of save()');
  const url = URL.createObjectURL(new Blob([data as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Give the browser a moment to start reading the object URL before releasing it.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The bytes of a file (from an `<input type="file">` or a drop), for `VAE.load`. */
export async function readModelFile(file: Blob): Promise<Uint8Array> {
  if (typeof Blob === 'undefined' || !(file instanceof Blob)) throw new TypeError(`readModelFile: file must be a File or Blob, got ${typeof file}`);
  return new Uint8Array(await file.arrayBuffer());
}

const STORE = 'models';

function openDb(database: string): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') return Promise.reject(new Error('IndexedDB is not available here'));
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(database, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error(`cannot open IndexedDB database ${JSON.stringify(database)}`));
  });
}

async function withStore<T>(database: string, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb(database);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export interface IndexedDBOptions {
  /** Database name. Default "vae-wasm". */
  database?: string;
}

/** Stores the bytes under `key` (replacing what was there, in one transaction). */
export async function saveToIndexedDB(key: string, bytes: BytesInput, options: IndexedDBOptions = {}): Promise<void> {
  if (typeof key !== 'string' || key === '') throw new TypeError('saveToIndexedDB: key must be a non-empty string');
  const data = toBytes('saveToIndexedDB', 'bytes', bytes, 'the output of save()');
  await withStore(options.database ?? 'vae-wasm', 'readwrite', (s) => s.put(data.slice(), key));
}

/** The bytes stored under `key`, or undefined. */
export async function loadFromIndexedDB(key: string, options: IndexedDBOptions = {}): Promise<Uint8Array | undefined> {
  const v = await withStore<unknown>(options.database ?? 'vae-wasm', 'readonly', (s) => s.get(key));
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw new Error(`loadFromIndexedDB: the value under ${JSON.stringify(key)} is not model bytes`);
  return v;
}

export async function deleteFromIndexedDB(key: string, options: IndexedDBOptions = {}): Promise<void> {
  await withStore(options.database ?? 'vae-wasm', 'readwrite', (s) => s.delete(key));
}
