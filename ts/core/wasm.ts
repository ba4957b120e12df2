/**
 * Loading the wasm core: one instance per JavaScript realm, created once by `init()` (its promise is cached).
 * The module's bytes are inlined into the bundle, so no bundler configuration or file serving is needed; pass your
 * own bytes or a compiled module to `init` to load it some other way.
 *
 * Two builds of the same core are inlined: the shared-memory one (worker threads, see ./threads.ts) wherever
 * SharedArrayBuffer works — Node, cross-origin isolated pages — and the single-memory one elsewhere. They compute
 * the same bits.
 *
 * Hazard: wasm memory can grow during any core call, which detaches every typed-array view of the old buffer.
 * Views are therefore made fresh for each access (`Core.f32` etc.) and never handed to users.
 */
import wasmBytes from './vae_core.wasm';
import sharedWasmBytes from './vae_core_mt.wasm';
import { ABI_VERSION, type CoreExports, Status, statusMessage } from './abi';
import { sharedMemoryUnavailable, stopThreads, workerFailure } from './threads';

/**
 * `WebAssembly.Module` where the project's TypeScript libraries declare it (the DOM library does; Node-only setups
 * with `lib: ["es2022"]` and `@types/node` do not), else any object. Written this way so the published .d.ts type
 * checks without the DOM library (tests/types.test.ts).
 */
export type WasmModule = typeof globalThis extends { WebAssembly: { Module: { prototype: infer M } } } ? M : object;
/** `WebAssembly.Memory` where declared, else an object with its buffer (see WasmModule). */
export type WasmMemory = typeof globalThis extends { WebAssembly: { Memory: { prototype: infer M } } } ? M : { readonly buffer: ArrayBuffer };

/** The core module as bytes (a Uint8Array, ArrayBuffer or other view) or a compiled `WebAssembly.Module`. */
export type WasmSource = ArrayBuffer | ArrayBufferView | WasmModule;

export interface InitOptions {
  /** The core module's bytes or a compiled module, instead of the inlined copy. */
  wasm?: WasmSource;
}

export class Core {
  /**
   * @param module the compiled core (workers instantiate it too)
   * @param shared whether this is the shared-memory build
   * @param sharedUnavailable why the shared-memory build could not be used, if it was wanted
   */
  constructor(readonly x: CoreExports, readonly module: WasmModule, readonly shared: boolean, readonly sharedUnavailable?: string) {}

  /** Allocates `bytes` in wasm memory; throws if memory cannot grow. */
  alloc(bytes: number): number {
    const p = this.x.vae_alloc(Math.max(bytes, 1));
    if (p === 0) {
      throw new RangeError(`vae-wasm: cannot allocate ${bytes} bytes of WebAssembly memory (the 4 GiB address space is exhausted)`);
    }
    return p;
  }

  free(p: number): void {
    if (p !== 0) this.x.vae_free(p);
  }

  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.x.memory.buffer, ptr, n);
  }

  f64(ptr: number, n: number): Float64Array {
    return new Float64Array(this.x.memory.buffer, ptr, n);
  }

  u32(ptr: number, n: number): Uint32Array {
    return new Uint32Array(this.x.memory.buffer, ptr, n);
  }

  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.x.memory.buffer, ptr, n);
  }

  /** Copies a typed array into newly allocated wasm memory. */
  copyIn(data: Float32Array | Uint8Array | Uint32Array): number {
    const p = this.alloc(data.byteLength);
    this.u8(p, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return p;
  }

  /** Runs `fn` with temporary allocations that are freed afterwards, whatever happens. */
  scoped<T>(fn: (alloc: (bytes: number) => number) => T): T {
    const held: number[] = [];
    try {
      return fn((bytes) => {
        const p = this.alloc(bytes);
        held.push(p);
        return p;
      });
    } finally {
      for (const p of held) this.free(p);
    }
  }

  /** Throws a clear error for a non-zero status. */
  check(status: number, what: string): void {
    if (status === Status.WORKER_FAILED) {
      const failure = workerFailure(this);
      stopThreads(this);
      throw new Error(`${what}: ${failure}. The call was abandoned and left the model as it was; the worker threads were shut down and restart on the next call that asks for them.`);
    }
    if (status !== 0) throw new Error(`${what}: ${statusMessage(status)}`);
  }

  /** Live allocations in the core's heap (for leak tests). */
  liveAllocations(): number {
    return this.x.vae_live_allocations();
  }

  /** Bytes of linear memory in use by the core's heap. */
  heapBytes(): number {
    return this.x.vae_heap_used();
  }

  memoryBytes(): number {
    return this.x.memory.buffer.byteLength;
  }
}

/**
 * The core a model constructor was given, or a clear error: `new VAE({...})` from JavaScript (the constructors are
 * private) would otherwise fail deep inside with "Cannot read properties of undefined".
 */
export function constructorCore(className: string, core: unknown): Core {
  if (core instanceof Core) return core;
  throw new TypeError(`new ${className}(...) is not supported: use \`await ${className}.create(config)\` (or \`await ${className}.load(bytes)\`), which loads the wasm core first`);
}

let pending: Promise<Core> | undefined;
let ready: Core | undefined;

/** Pages of the shared memory's initial size and maximum (`--initial-memory`/`--max-memory` in build-wasm.sh). */
const SHARED_INITIAL_PAGES = 32;
const SHARED_MAX_PAGES = 65536;

function sharedMemory(): WebAssembly.Memory {
  try {
    return new WebAssembly.Memory({ initial: SHARED_INITIAL_PAGES, maximum: SHARED_MAX_PAGES, shared: true });
  } catch {
    // Engines that cannot reserve 4 GiB of address space for a shared memory (32-bit devices) get 1 GiB.
    return new WebAssembly.Memory({ initial: SHARED_INITIAL_PAGES, maximum: SHARED_MAX_PAGES / 4, shared: true });
  }
}

async function instantiate(source: WasmSource | undefined): Promise<Core> {
  const unavailable = sharedMemoryUnavailable();
  const bytes = source ?? (unavailable ? wasmBytes : sharedWasmBytes);
  const module = bytes instanceof WebAssembly.Module ? bytes : await WebAssembly.compile(bytes as BufferSource);
  const shared = WebAssembly.Module.imports(module).some((i) => i.kind === 'memory');
  if (shared && unavailable) throw new Error(`vae-wasm: this core module needs shared memory, but ${unavailable.replace(/^one thread: /, '')}`);
  let x: CoreExports;
  if (shared) {
    const memory = sharedMemory();
    let words = new Int32Array(memory.buffer);
    const view = (): Int32Array => (words.buffer === memory.buffer ? words : (words = new Int32Array(memory.buffer)));
    const wake = (addr: number, count: number): void => { Atomics.notify(view(), addr >>> 2, count >>> 0); };
    // The caller sleeps while it waits for a worker's chunk; a browser's main thread may not block, and spins.
    let mayBlock = true;
    const wait = (addr: number, expected: number, ms: number): void => {
      if (!mayBlock) return;
      try {
        Atomics.wait(view(), addr >>> 2, expected | 0, ms);
      } catch {
        mayBlock = false;
      }
    };
    const env = { memory, vae_thread_wake: wake, vae_thread_wait: wait, vae_thread_now: () => performance.now() };
    const instance = await WebAssembly.instantiate(module, { env });
    x = { ...(instance.exports as unknown as CoreExports), memory };
  } else {
    const instance = await WebAssembly.instantiate(module, {});
    x = instance.exports as unknown as CoreExports;
  }
  const version = x.vae_abi_version();
  if (version !== ABI_VERSION) {
    throw new Error(`vae-wasm: the wasm core has ABI version ${version}, but this JavaScript expects ${ABI_VERSION}; rebuild or reinstall the package`);
  }
  return new Core(x, module, shared, source === undefined ? unavailable : undefined);
}

/**
 * Loads and instantiates the core. Safe to call many times; later calls return the first call's promise.
 * Model factories (`VAE.create`, `VAE.load`, ...) call it for you.
 */
export function init(options: InitOptions = {}): Promise<Core> {
  if (!pending) {
    pending = instantiate(options.wasm).then((c) => (ready = c));
    pending.catch(() => { pending = undefined; });
  }
  return pending;
}

/** The loaded core; throws if `init()` has not completed. */
export function getCore(): Core {
  if (!ready) throw new Error('vae-wasm: the wasm core is not loaded; await init() (or use an async factory such as VAE.create) first');
  return ready;
}

/** True when the engine validates a module using SIMD instructions (v128.const + i8x16.popcnt-free probe). */
export function simdSupported(): boolean {
  // (module (func (result v128) v128.const i32x4 0 0 0 0))
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0,
    253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
  return WebAssembly.validate(probe);
}
