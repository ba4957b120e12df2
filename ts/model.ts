/**
 * What VAE and Autoencoder share: the handle on a core model, weights by name, training, saving, disposal.
 * Every public method validates its arguments before touching the core, so a rejected call changes nothing.
 */
import {
  type CorePlan, type CoreShape, DType, ERROR_WORDS, LAYER_OP, LAYER_WORDS, OBJECTIVE, OPTIMIZER, planWords, readPlanError, SECTION, STATE_WORDS, Status,
  statusMessage, TENSOR_WORDS,
} from './core/abi';
import { ensureThreads, hardwareThreads, releaseThreads } from './core/threads';
import { type Core } from './core/wasm';
import { type Matrix, type MatrixRules, toMatrix } from './data';
import { planErrorMessage } from './layers';
import { checkKeys, checkObject, describe, fail, groupRules, MAX_THREADS, positiveInt, resolveFit, type ResolvedFit, seedOption, threadsOption } from './options';
import { crc32 } from './crc32';
import { encodeSafetensors } from './safetensors';
import { decodeRows, type DecodedRows, type TableSchema } from './schema';
import type { BatchLog, DataInput, EpochLog, FitOptions, NamedTensor, ScoreOptions, ScoreResult } from './types';

/** Whether a data set's schema is the model's (the same columns, encoded the same way). */
function sameSchema(a: TableSchema, b: unknown): boolean {
  return JSON.stringify(a.columns) === JSON.stringify((b as { columns?: unknown }).columns);
}

/** Where the data's schema `given` first differs from the model's: its column count, or one column's name, kind,
 * statistics (mean, sd) or levels. */
function schemaDifference(given: unknown, model: TableSchema): string {
  const cols = (given as { columns?: unknown }).columns;
  if (!Array.isArray(cols)) return `the data's schema is ${describe(given)}`;
  if (cols.length !== model.columns.length) return `the data has ${cols.length} columns, the model ${model.columns.length}`;
  for (let i = 0; i < cols.length; i++) {
    const g = cols[i] as Record<string, unknown>;
    const m = model.columns[i] as unknown as Record<string, unknown>;
    for (const key of ['name', 'kind', 'mean', 'sd', 'levels', 'offset', 'width']) {
      if (JSON.stringify(g?.[key]) !== JSON.stringify(m[key])) {
        return `column ${i + 1} (${JSON.stringify(m.name)}) has ${key} ${JSON.stringify(g?.[key])} in the data's schema, ${JSON.stringify(m[key])} in the model's`;
      }
    }
  }
  return "the columns' other fields differ";
}

/** Each value's share of the reconstruction term, summed per schema column (a categorical's levels together). */
function perSchemaColumn(schema: TableSchema, perValue: Float32Array, rows: number): Float32Array {
  const k = schema.columns.length;
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    schema.columns.forEach((c, j) => {
      let s = 0;
      for (let v = 0; v < c.width; v++) s += perValue[r * schema.width + c.offset + v]!;
      out[r * k + j] = s;
    });
  }
  return out;
}

export interface TensorSpec {
  name: string;
  shape: number[];
  /** Offset in floats within the parameter buffer. */
  offset: number;
  size: number;
}

/** A layer of the compiled plan, as the core reports it. */
export interface LayerInfo {
  op: (typeof LAYER_OP)[number];
  section: keyof typeof SECTION;
  /** Position within its section (encoder[i], decoder[i]; 0 for the output layer). */
  index: number;
  input: CoreShape;
  output: CoreShape;
}

/** Saved-file identification (safetensors `__metadata__`). */
export const FORMAT = 'vae-wasm';
export const FORMAT_VERSION = '1';
/** Name of the optimizer-state tensor in saved files: [slots, parameterCount]. */
export const OPTIMIZER_TENSOR = 'optimizer.state';

const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function'
    ? () => new Promise((resolve) => setImmediate(resolve))
    : () => new Promise((resolve) => setTimeout(resolve, 0));

/** CRC-32 over every tensor (names, shapes, bytes) and the metadata (without the checksum), as 8 hex digits. */
export function checksum(tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata: Record<string, string>): string {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    chunks.push(enc.encode(`${name}:${t.shape.join('x')};`));
    // Little-endian bytes, as stored.
    const le = new Uint8Array(t.data.length * 4);
    const v = new DataView(le.buffer);
    t.data.forEach((f, i) => v.setFloat32(4 * i, f, true));
    chunks.push(le);
  }
  for (const k of Object.keys(metadata).sort()) if (k !== 'checksum') chunks.push(enc.encode(`${k}=${metadata[k]};`));
  return crc32(chunks).toString(16).padStart(8, '0');
}

/** Node only: writes to a temporary file beside `path`, then renames it over `path`. */
async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  // A computed specifier, so that browser bundlers do not try to resolve a Node module they never need.
  const fs: typeof import('node:fs/promises') = await import(/* @vite-ignore */ ['node', 'fs/promises'].join(':')).catch(() => {
    throw new Error('fit: checkpoint.path needs Node (node:fs); in a browser use checkpoint.onCheckpoint');
  });
  const tmp = `${path}.tmp-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, path);
}

export abstract class BaseModel {
  /** Pointer to the core model; 0 once disposed. */
  #handle: number;
  #optimizerName: string | undefined;
  /** True while a fit runs (see `fit`). */
  #fitting = false;
  /** Epochs completed by `fit` over the model's life (saved in checkpoints). */
  epochsTrained = 0;
  protected readonly core: Core;
  /** Values per data row and per code. */
  protected readonly inputDim: number;
  protected readonly latentDim: number;
  /** The shape of a data row as the core sees it. */
  protected readonly inputShape: CoreShape;
  /** Values of the condition per row (0: not a conditional model). */
  protected readonly conditionDim: number;
  readonly tensors: readonly TensorSpec[];
  /** The compiled plan's layers in order (encoder, decoder, output), with the shapes the core computed. */
  readonly layers: readonly LayerInfo[];
  readonly parameterCount: number;
  protected abstract readonly className: string;
  /** The resolved configuration (each subclass's own type). */
  abstract readonly config: Readonly<{ schema?: TableSchema }>;

  /**
   * Compiles `plan` in the core and initialises the model. A plan the core refuses is reported with the layer's
   * name from `names` (checked before anything is allocated).
   */
  protected constructor(core: Core, plan: CorePlan, names: string[], where: string) {
    this.core = core;
    this.inputDim = plan.input.h * plan.input.w * plan.input.c;
    this.inputShape = plan.input;
    this.conditionDim = plan.condition ?? 0;
    this.rules = groupRules(plan.groups, plan.recon, this.inputDim);
    this.latentDim = plan.latentDim;
    const words = planWords(plan);
    const handle = core.scoped((alloc) => {
      const p = alloc(words.byteLength);
      core.u32(p, words.length).set(words);
      const err = alloc(ERROR_WORDS * 4);
      if (core.x.vae_plan_check(p, words.length, err) !== Status.OK) {
        throw new Error(`${where}: ${planErrorMessage(readPlanError(core.u32(err, ERROR_WORDS).slice()), names, plan.input)}`);
      }
      return core.x.vae_model_new(p, words.length, err);
    });
    if (handle === 0) throw new Error(`${where}: cannot create the model: ${statusMessage(core.x.vae_last_status())}`);
    this.#handle = handle;
    this.tensors = core.scoped((alloc) => {
      const info = alloc(TENSOR_WORDS * 4);
      const nameBytes = alloc(64);
      const n = core.x.vae_model_tensor_count(handle);
      const out: TensorSpec[] = [];
      for (let i = 0; i < n; i++) {
        core.check(core.x.vae_model_tensor_info(handle, i, info), 'tensor info');
        const [rank, d0, d1, d2, d3, offset, size] = core.u32(info, TENSOR_WORDS);
        const len = core.x.vae_model_tensor_name(handle, i, nameBytes, 64);
        const name = String.fromCharCode(...core.u8(nameBytes, len));
        out.push({ name, shape: [d0!, d1!, d2!, d3!].slice(0, rank), offset: offset!, size: size! });
      }
      return out;
    });
    this.layers = core.scoped((alloc) => {
      const info = alloc(LAYER_WORDS * 4);
      const out: LayerInfo[] = [];
      const sections = Object.keys(SECTION) as (keyof typeof SECTION)[];
      const shape = (w: Uint32Array, at: number): CoreShape => ({ rank: w[at] === 3 ? 3 : 1, h: w[at + 1]!, w: w[at + 2]!, c: w[at + 3]! });
      for (let i = 0; i < core.x.vae_model_layer_count(handle); i++) {
        core.check(core.x.vae_model_layer_info(handle, i, info), 'layer info');
        const w = core.u32(info, LAYER_WORDS).slice();
        out.push({ op: LAYER_OP[w[0]!]!, section: sections[w[1]!]!, index: w[2]!, input: shape(w, 3), output: shape(w, 7) });
      }
      return out;
    });
    this.parameterCount = this.tensors.reduce((s, t) => s + t.size, 0);
  }

  // ---- threads ---------------------------------------------------------------------------------------------

  #threadSetting: number | 'auto' = 'auto';
  #threadsWanted = 1;
  #threadsNote: string | undefined;

  /** Threads this model's calls use now, the calling one included. */
  get threads(): number {
    return Math.max(1, Math.min(this.#threadsWanted, this.core.x.vae_threads_available()));
  }

  /** Why `threads` is fewer than the setting asks for (for example, a page that is not cross-origin isolated). */
  get threadsNote(): string | undefined {
    return this.#threadsNote;
  }

  /**
   * Sets how many threads the model's calls use (see the `threads` config option) and starts worker threads if
   * needed. Results do not depend on it.
   */
  async setThreads(threads: number | 'auto'): Promise<void> {
    const setting = threadsOption(`${this.className}.setThreads`, threads);
    const h = this.handle;
    const wanted = setting === 'auto' ? Math.min(hardwareThreads(), MAX_THREADS) : setting;
    const note = await ensureThreads(this.core, wanted, this);
    if (this.disposed) return;
    this.core.x.vae_model_set_threads(h, wanted);
    this.#threadSetting = setting;
    this.#threadsWanted = wanted;
    this.#threadsNote = note;
  }

  /** The core handle; throws a clear error after dispose(). */
  protected get handle(): number {
    if (this.#handle === 0) throw new Error(`${this.className}: this model has been disposed; create or load a new one`);
    return this.#handle;
  }

  get disposed(): boolean {
    return this.#handle === 0;
  }

  protected abstract get isVae(): boolean;
  /** What data must satisfy (values in [0, 1] where a Bernoulli or categorical term reads them, ...). */
  protected readonly rules: MatrixRules;
  protected abstract metadataConfig(): Record<string, unknown>;

  protected matrix(where: string, what: string, x: unknown): Matrix {
    const schema = this.schema;
    const given = typeof x === 'object' && x !== null && 'schema' in x ? (x as { schema: unknown }).schema : undefined;
    if (schema && given !== undefined && !sameSchema(schema, given)) {
      throw new TypeError(`${this.className}.${where}: ${what} was encoded with another schema than the model's (${schemaDifference(given, schema)}); parse it with parseCsv(text, { schema: model.schema })`);
    }
    return toMatrix(`${this.className}.${where}`, what, x, this.inputDim, this.rules);
  }

  /** The table schema the model's rows are encoded with (models created with `schema`), else undefined. */
  get schema(): TableSchema | undefined {
    return this.config.schema;
  }

  /**
   * Model outputs in the schema's encoding (`decode`, `reconstruct` or `sample`: rows × width) → rows in the
   * table's original units, as `decodeRows(model.schema, values)`: numbers un-standardised, binary and categorical
   * columns as their most likely level, with their probabilities.
   */
  toRows(values: ArrayLike<number>): DecodedRows {
    const schema = this.schema;
    if (!schema) throw new TypeError(`${this.className}.toRows: this model has no table schema (create it with { schema: parseCsv(text).schema }); decode gives its outputs as values`);
    return decodeRows(schema, values);
  }

  // ---- weights ---------------------------------------------------------------------------------------------

  /** Copies of every parameter tensor by name (weights in × out). */
  getWeights(): Record<string, NamedTensor> {
    const h = this.handle;
    const params = this.core.f32(this.core.x.vae_model_params(h), this.core.x.vae_model_param_count(h));
    const out: Record<string, NamedTensor> = {};
    for (const t of this.tensors) out[t.name] = { shape: [...t.shape], data: params.slice(t.offset, t.offset + t.size) };
    return out;
  }

  /**
   * Replaces parameters. Every tensor must be given, by name, with its exact shape (or as a flat Float32Array of
   * the right length) and finite values; otherwise nothing changes.
   */
  setWeights(weights: Record<string, NamedTensor | Float32Array>): void {
    const where = `${this.className}.setWeights`;
    const h = this.handle;
    checkObject(where, 'weights', weights);
    const names = new Set(this.tensors.map((t) => t.name));
    for (const k of Object.keys(weights)) {
      if (!names.has(k)) throw new TypeError(`${where}: unknown tensor ${JSON.stringify(k)}; this model's tensors are ${[...names].join(', ')}`);
    }
    const staged: [TensorSpec, Float32Array][] = [];
    for (const t of this.tensors) {
      const w = weights[t.name];
      if (w === undefined) throw new TypeError(`${where}: missing tensor ${JSON.stringify(t.name)} (shape [${t.shape.join(', ')}])`);
      const data = w instanceof Float32Array ? w : w.data;
      if (!(w instanceof Float32Array)) {
        if (!Array.isArray(w.shape) || w.shape.length !== t.shape.length || w.shape.some((d, i) => d !== t.shape[i])) {
          throw new RangeError(`${where}: tensor ${JSON.stringify(t.name)} has shape ${describe(w.shape)}; expected [${t.shape.join(', ')}]`);
        }
      }
      if (!(data instanceof Float32Array) || data.length !== t.size) {
        throw new RangeError(`${where}: tensor ${JSON.stringify(t.name)} must be a Float32Array of ${t.size} values, got ${describe(data)}`);
      }
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) throw new RangeError(`${where}: tensor ${JSON.stringify(t.name)} has a non-finite value ${data[i]} at index ${i}`);
      }
      staged.push([t, data]);
    }
    const params = this.core.f32(this.core.x.vae_model_params(h), this.core.x.vae_model_param_count(h));
    for (const [t, data] of staged) params.set(data, t.offset);
  }

  // ---- persistence -----------------------------------------------------------------------------------------

  /**
   * The model as a safetensors file: every tensor as F32 (weights in × out) and `__metadata__` with
   * `format: "vae-wasm"`, `version`, `kind`, the JSON `config`, the training position (`training`: RNG states,
   * optimizer step and name, epochs trained), and a CRC-32 `checksum` over the tensors and metadata. With
   * optimizer state, the tensor `optimizer.state` holds it ([slots, parameterCount]).
   */
  save(): Uint8Array {
    const h = this.handle;
    const x = this.core.x;
    const tensors: Record<string, NamedTensor> = this.getWeights();
    const training = this.core.scoped((alloc) => {
      const p = alloc(STATE_WORDS * 4);
      x.vae_model_get_state(h, p);
      return Array.from(this.core.u32(p, STATE_WORDS));
    });
    const slots = x.vae_model_opt_slots(h);
    if (slots > 0) {
      const n = x.vae_model_param_count(h);
      tensors[OPTIMIZER_TENSOR] = { shape: [slots, n], data: this.core.f32(x.vae_model_opt_state(h), slots * n).slice() };
    }
    const metadata: Record<string, string> = {
      format: FORMAT,
      version: FORMAT_VERSION,
      kind: this.isVae ? 'vae' : 'autoencoder',
      config: JSON.stringify(this.metadataConfig()),
      training: JSON.stringify({ state: training, optimizer: this.#optimizerName ?? null, epochsTrained: this.epochsTrained }),
    };
    metadata.checksum = checksum(tensors, metadata);
    return encodeSafetensors(tensors, metadata);
  }

  /** Restores what `save()` recorded beyond the weights (used by `load`). */
  restoreTraining(where: string, training: unknown, optimizerState: Float32Array | undefined): void {
    const t = training as { state?: unknown; optimizer?: unknown; epochsTrained?: unknown };
    const words = t.state;
    if (!Array.isArray(words) || words.length !== STATE_WORDS || !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new Error(`${where}: the training state in the metadata is malformed`);
    }
    const h = this.handle;
    const x = this.core.x;
    const kind = words[14];
    const n = x.vae_model_param_count(h);
    const slots = kind === 0xffffffff ? 0 : kind === OPTIMIZER.adam ? 2 : 1;
    if ((optimizerState?.length ?? 0) !== slots * n) {
      throw new Error(`${where}: the optimizer state has ${optimizerState?.length ?? 0} values; expected ${slots * n}`);
    }
    // Training never stores a NaN or a negative square (Adam's v, Adagrad's sums) there; either would make the next
    // update write NaN into the weights, past the finite check on loss and gradients.
    const squaresFrom = kind === OPTIMIZER.adam ? n : kind === OPTIMIZER.adagrad ? 0 : Infinity;
    for (let i = 0; i < (optimizerState?.length ?? 0); i++) {
      const v = optimizerState![i]!;
      if (Number.isNaN(v) || (i >= squaresFrom && v < 0)) {
        throw new Error(`${where}: the optimizer state has ${v} at index ${i}, which training never writes (${Number.isNaN(v) ? 'NaN' : 'a negative sum of squares'}); the file is damaged. Its weights alone can still be set on a new model with setWeights`);
      }
    }
    const status = this.core.scoped((alloc) => {
      const p = alloc(STATE_WORDS * 4);
      this.core.u32(p, STATE_WORDS).set(words);
      return x.vae_model_set_state(h, p);
    });
    if (status !== 0) throw new Error(`${where}: the training state in the metadata is invalid`);
    if (optimizerState) this.core.f32(x.vae_model_opt_state(h), slots * n).set(optimizerState);
    this.#optimizerName = typeof t.optimizer === 'string' ? t.optimizer : undefined;
    this.epochsTrained = typeof t.epochsTrained === 'number' ? t.epochsTrained : 0;
  }

  // ---- training --------------------------------------------------------------------------------------------

  /**
   * Trains with minibatch stochastic gradients. Each step is one call into the core (gather rows, draw ε, forward,
   * backward, optimizer update). Resolves with one `EpochLog` per completed epoch; with an aborted `signal`, stops
   * between steps and resolves with the epochs completed so far.
   */
  async fit(data: DataInput, options: FitOptions = {}): Promise<EpochLog[]> {
    const where = `${this.className}.fit`;
    if (this.disposed) void this.handle; // throws the disposed-model error
    const o = resolveFit(where, options, this.isVae);
    const train = this.matrix('fit', 'data', data);
    if (options.batchSize === undefined) o.batchSize = Math.min(o.batchSize, train.rows); // default: min(128, rows)
    if (o.batchSize > train.rows) {
      throw new RangeError(`${where}: batchSize ${o.batchSize} is larger than the ${train.rows} rows of data; expected at most ${train.rows}`);
    }
    const val = options.validationData === undefined ? undefined : this.matrix('fit', 'validationData', options.validationData);
    const cond = this.conditionOf(where, 'options.condition', options.condition, train.rows);
    if (!val && options.validationCondition !== undefined) fail(where, 'options.validationCondition', options.validationCondition, 'left out without validationData');
    const valCond = val ? this.conditionOf(where, 'options.validationCondition', options.validationCondition, val.rows) : undefined;
    // One fit at a time, including from a callback of the running one: the second's steps would interleave with the
    // first's at each await, with their own batch size, optimizer and conditions.
    if (this.#fitting) {
      throw new Error(`${where}: this model is already training (another fit() has not finished, or this one was started from its callback); await it before starting another, or train a second model`);
    }
    this.#fitting = true;
    try {
      // Starts (or restarts, after a failure) the worker threads this fit asks for; the model's setting returns after.
      const setting = this.#threadSetting;
      await this.setThreads(o.threads ?? setting);
      try {
        return await this.#fit(where, o, options, train, val, cond, valCond);
      } finally {
        if (o.threads !== undefined && !this.disposed) await this.setThreads(setting);
      }
    } finally {
      this.#fitting = false;
    }
  }

  async #fit(where: string, o: ResolvedFit, options: FitOptions, train: Matrix, val: Matrix | undefined, cond: Matrix | undefined,
    valCond: Matrix | undefined): Promise<EpochLog[]> {
    const h = this.handle;
    const core = this.core;
    const x = core.x;
    this.#setOptimizer(o);
    const reserved = x.vae_model_reserve(h, o.batchSize, o.batchSize * o.samples);
    if (reserved === Status.OUT_OF_MEMORY) {
      throw new RangeError(`${where}: the workspace for batchSize × samples = ${o.batchSize * o.samples} decoder rows does not fit in WebAssembly memory; lower batchSize or samples${o.objective === 'iwae' ? " (with objective 'iwae', samples is k)" : ''}`);
    }
    core.check(reserved, where);
    const batches = Math.ceil(train.rows / o.batchSize);
    const warmupSteps = this.isVae ? Math.round(o.klWarmupEpochs * batches) : 0;
    const history: EpochLog[] = [];
    const signal = options.signal;
    // The data stay in wasm memory for the whole fit: copied once, not per epoch.
    const dataPtr = core.copyIn(train.data);
    let valPtr = 0;
    // A conditional model's conditions stay in wasm memory too, bound while their rows are used.
    let condPtr = 0;
    let valCondPtr = 0;
    const bind = (c: Matrix | undefined, p: number) => { if (c) this.bindCondition(p, c.dtype, where); };
    let idxPtr = 0;
    let statsPtr = 0;
    try {
      if (val) valPtr = core.copyIn(val.data);
      if (cond) condPtr = core.copyIn(cond.data);
      if (valCond) valCondPtr = core.copyIn(valCond.data);
      bind(cond, condPtr);
      idxPtr = core.alloc(train.rows * 4);
      statsPtr = core.alloc(32);
      let lastYield = performance.now();
      for (let epoch = 1; epoch <= o.epochs; epoch++) {
        if (signal?.aborted) break;
        const t0 = performance.now();
        // Each epoch's order depends only on the RNG state, so a resumed run replays it exactly.
        const idx = core.u32(idxPtr, train.rows);
        for (let i = 0; i < train.rows; i++) idx[i] = i;
        if (o.shuffle) x.vae_model_shuffle(h, idxPtr, train.rows);
        let sumLoss = 0;
        let sumRec = 0;
        let sumKl = 0;
        let seen = 0;
        let skipped = 0;
        let aborted = false;
        for (let b = 0; b < batches; b++) {
          if (signal?.aborted) { aborted = true; break; }
          const start = b * o.batchSize;
          const n = Math.min(o.batchSize, train.rows - start);
          const status = x.vae_model_train_step(h, dataPtr, train.dtype, idxPtr + 4 * start, n, o.samples, o.klWeight,
            warmupSteps, o.binarize ? 1 : 0, OBJECTIVE[o.objective], statsPtr);
          if (status === Status.NON_FINITE) {
            if (o.onNonFinite === 'skip') {
              skipped++;
              continue;
            }
            throw new Error(`${where}: ${statusMessage(status)} at epoch ${epoch}, batch ${b + 1}; that update was not applied, so the weights are those after the previous step. Try a lower learning rate, or onNonFinite: 'skip'.`);
          }
          core.check(status, where);
          const [loss, rec, kl, beta] = core.f64(statsPtr, 4);
          sumRec += rec! * n;
          sumKl += kl! * n;
          sumLoss += (o.objective === 'iwae' ? loss! : rec! + kl!) * n;
          seen += n;
          if (options.onBatchEnd) {
            const log: BatchLog = { epoch, batch: b, batches, loss: loss!, reconstruction: rec!, kl: kl!, klWeight: beta! };
            await options.onBatchEnd(log);
            void this.handle; // a callback may have disposed the model: stop with its error, before the next step
          }
          // Let timers, I/O and abort signals run now and then.
          if (performance.now() - lastYield > 50) {
            await yieldToEventLoop();
            void this.handle; // so may code that ran meanwhile
            lastYield = performance.now();
          }
        }
        if (aborted) break;
        if (seen === 0) {
          throw new Error(`${where}: every batch of epoch ${epoch} gave a non-finite loss or gradient and was skipped; the weights are unchanged since the last finite step`);
        }
        const trainSeconds = (performance.now() - t0) / 1000;
        const log: EpochLog = {
          epoch,
          loss: sumLoss / seen,
          reconstruction: sumRec / seen,
          kl: sumKl / seen,
          samplesPerSecond: seen / trainSeconds,
          seconds: 0,
        };
        if (skipped > 0) log.skippedBatches = skipped;
        if (val) {
          bind(valCond, valCondPtr);
          const r = this.evaluateResident(valPtr, val, 1, undefined);
          bind(cond, condPtr);
          log.valLoss = r.reconstruction + r.kl;
          log.valReconstruction = r.reconstruction;
          log.valKl = r.kl;
        }
        log.seconds = (performance.now() - t0) / 1000;
        history.push(log);
        this.epochsTrained++;
        const ck = options.checkpoint;
        if (ck && epoch % ck.everyEpochs === 0) {
          const bytes = this.save();
          if (ck.path !== undefined) await writeFileAtomic(ck.path, bytes);
          if (ck.onCheckpoint) await ck.onCheckpoint(bytes, this.epochsTrained);
        }
        if (options.onEpochEnd) await options.onEpochEnd(log);
        void this.handle;
      }
    } finally {
      if (cond && !this.disposed) this.bindCondition(0, 0, where);
      core.free(dataPtr);
      core.free(valPtr);
      core.free(condPtr);
      core.free(valCondPtr);
      core.free(idxPtr);
      core.free(statsPtr);
    }
    return history;
  }

  #setOptimizer(o: ResolvedFit): void {
    const p = o.optimizer;
    const kind = { sgd: 0, adam: 1, adagrad: 2 }[p.name];
    this.core.check(this.core.x.vae_model_set_optimizer(this.handle, kind, p.learningRate, p.beta1, p.beta2, p.epsilon,
      p.momentum, p.weightDecay), `${this.className}.fit`);
    this.#optimizerName = p.name;
  }

  /** Optimizer steps taken so far (across fit calls with the same optimizer). */
  get step(): number {
    return this.core.x.vae_model_step(this.handle);
  }

  /** Name of the optimizer whose state the model holds, if any. */
  get optimizer(): string | undefined {
    return this.#optimizerName;
  }

  /** Sums over rows → means: reconstruction and KL, ε from `seed` or the model's evaluation stream. */
  protected evaluateMatrix(m: Matrix, samples: number, seed: number | undefined, c?: Matrix): { reconstruction: number; kl: number } {
    return this.withCondition(c, () => this.withMatrix(m, (p) => this.evaluateResident(p, m, samples, seed)));
  }

  /** As `evaluateMatrix`, for rows already in wasm memory at `ptr`. */
  private evaluateResident(ptr: number, m: Matrix, samples: number, seed: number | undefined): { reconstruction: number; kl: number } {
    const core = this.core;
    const h = this.handle;
    return core.scoped((alloc) => {
      const stats = alloc(16);
      core.check(core.x.vae_model_evaluate(h, ptr, m.dtype, m.rows, samples, seed ?? 0, seed === undefined ? 0 : 1, 0, 0, 0, stats),
        `${this.className}.evaluate`);
      const [rec, kl] = core.f64(stats, 2);
      return { reconstruction: rec! / m.rows, kl: kl! / m.rows };
    });
  }

  /**
   * A conditional model's condition for `rows` rows, checked (rows × conditionDim finite values, in any data form),
   * or undefined for an unconditional model; an error when it is missing, or given to a model without one.
   */
  protected conditionOf(where: string, what: string, condition: unknown, rows: number): Matrix | undefined {
    if (this.conditionDim === 0) {
      if (condition !== undefined) fail(where, what, condition, 'left out: this model is not conditional (create it with conditionDim)');
      return undefined;
    }
    if (condition === undefined) {
      return fail(where, what, undefined, `given: this model is conditioned on ${this.conditionDim} values per row (conditionDim), e.g. oneHot(labels, ${this.conditionDim})`);
    }
    const c = toMatrix(where, what, condition, this.conditionDim, { unit: false }, 'conditionDim');
    if (c.rows !== rows) throw new RangeError(`${where}: ${what} has ${c.rows} rows; expected one per row of data (${rows})`);
    // Bytes are data rows' pixel intensities (the core reads them as v / 255); a condition's bytes are its values
    // (a one-hot Uint8Array means 0 and 1).
    return c.dtype === DType.U8 ? { ...c, data: Float32Array.from(c.data), dtype: DType.F32 } : c;
  }

  /** The condition rows bound in the core now (wasm pointer and dtype), so that a nested binding can restore them. */
  #bound = { ptr: 0, dtype: 0 };

  /** Binds condition rows already in wasm memory (ptr 0: none); returns what was bound before. */
  protected bindCondition(ptr: number, dtype: number, where: string): { ptr: number; dtype: number } {
    const before = this.#bound;
    this.core.check(this.core.x.vae_model_set_condition(this.handle, ptr, dtype), where);
    this.#bound = { ptr, dtype };
    return before;
  }

  /**
   * Runs `fn` with the condition rows (if any) bound in the core, and binds back what was bound before (a fit's
   * training rows, when called from onBatchEnd), whatever happens.
   */
  protected withCondition<T>(c: Matrix | undefined, fn: () => T): T {
    if (!c) return fn();
    return this.withMatrix(c, (p) => {
      const before = this.bindCondition(p, c.dtype, this.className);
      try {
        return fn();
      } finally {
        this.bindCondition(before.ptr, before.dtype, this.className);
      }
    });
  }

  /** Runs `fn` with the matrix copied into wasm memory. */
  protected withMatrix<T>(m: Matrix, fn: (ptr: number, alloc: (bytes: number) => number) => T): T {
    return this.core.scoped((alloc) => {
      const p = alloc(m.data.byteLength);
      this.core.u8(p, m.data.byteLength).set(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      return fn(p, alloc);
    });
  }

  /** Loss terms and all gradients (by name) for f32 rows and (VAE) fixed noise. */
  protected lossAndGradientsImpl(where: string, x: Matrix, eps: Float32Array | undefined, samples: number, beta: number, objective: keyof typeof OBJECTIVE = 'elbo', c?: Matrix) {
    const core = this.core;
    const h = this.handle;
    const xf = x.data instanceof Float32Array ? x.data : Float32Array.from(x.data, (v) => v / 255);
    return this.withCondition(c, () => core.scoped((alloc) => {
      const xp = alloc(xf.byteLength);
      core.f32(xp, xf.length).set(xf);
      let ep = 0;
      if (eps) {
        ep = alloc(eps.byteLength);
        core.f32(ep, eps.length).set(eps);
      }
      const stats = alloc(24);
      core.check(core.x.vae_model_loss_grad(h, xp, x.rows, ep, samples, beta, OBJECTIVE[objective], stats), where);
      const [loss, rec, kl] = core.f64(stats, 3);
      const grads = core.f32(core.x.vae_model_grads(h), core.x.vae_model_param_count(h));
      const gradients: Record<string, Float32Array> = {};
      for (const t of this.tensors) gradients[t.name] = grads.slice(t.offset, t.offset + t.size);
      return { loss: loss!, reconstruction: rec!, kl: kl!, gradients };
    }));
  }

  /**
   * The caller's array for an output of `length` floats (`out` option: no allocation per call, for one-row calls in
   * a loop), checked; undefined when none was given.
   */
  protected outArray(where: string, what: string, out: unknown, length: number): Float32Array | undefined {
    if (out === undefined) return undefined;
    if (!(out instanceof Float32Array) || out.length !== length) fail(where, what, out, `a Float32Array of ${length} values (the result's size)`);
    return out;
  }

  /** `view` (in wasm memory) copied into `out`, or into a new array. */
  protected static result(view: Float32Array, out: Float32Array | undefined): Float32Array {
    if (!out) return view.slice();
    out.set(view);
    return out;
  }

  /** decoder outputs for codes (rows × latentDim), into `out` if given. */
  protected decodeImpl(where: string, z: Float32Array, logits: boolean, condition?: unknown, out?: unknown): Float32Array {
    const core = this.core;
    const h = this.handle;
    const { inputDim, latentDim } = this;
    const n = z.length / latentDim;
    const c = this.conditionOf(where, 'options.condition', condition, n);
    const into = this.outArray(where, 'options.out', out, n * inputDim);
    return this.withCondition(c, () => core.scoped((alloc) => {
      const zp = alloc(z.byteLength);
      core.f32(zp, z.length).set(z);
      const op = alloc(n * inputDim * 4);
      core.check(core.x.vae_model_decode(h, zp, n, op, logits ? 1 : 0), where);
      return BaseModel.result(core.f32(op, n * inputDim), into);
    }));
  }

  /**
   * decode(encode(x)) without noise: probabilities (Bernoulli/BCE) or means, rows × inputDim (into `options.out`,
   * a Float32Array of that size, if given).
   */
  reconstruct(x: DataInput, options: { condition?: DataInput; out?: Float32Array } = {}): Float32Array {
    const where = `${this.className}.reconstruct`;
    checkObject(where, 'options', options);
    checkKeys(where, options, ['condition', 'out']);
    const m = this.matrix('reconstruct', 'x', x);
    const c = this.conditionOf(where, 'options.condition', options.condition, m.rows);
    const h = this.handle;
    const dim = this.inputDim;
    const into = this.outArray(where, 'options.out', options.out, m.rows * dim);
    return this.withCondition(c, () => this.withMatrix(m, (p, alloc) => {
      const out = alloc(m.rows * dim * 4);
      this.core.check(this.core.x.vae_model_reconstruct(h, p, m.dtype, m.rows, out), where);
      return BaseModel.result(this.core.f32(out, m.rows * dim), into);
    }));
  }

  /**
   * Decodes n codes z ~ N(0, I) (n × inputDim; probabilities or means), drawn from `seed` if given, else from the
   * model's evaluation stream. For a VAE these are samples from the model; an autoencoder has no prior over its
   * codes, so its outputs need not look like data at all.
   */
  sample(n: number, options: { seed?: number; condition?: DataInput } = {}): Float32Array {
    const where = `${this.className}.sample`;
    positiveInt(where, 'n', n, 1 << 24);
    checkObject(where, 'options', options);
    checkKeys(where, options, ['seed', 'condition']);
    const seed = seedOption(where, options.seed);
    const c = this.conditionOf(where, 'options.condition', options.condition, n);
    const h = this.handle;
    const dim = this.inputDim;
    return this.withCondition(c, () => this.core.scoped((alloc) => {
      const out = alloc(n * dim * 4);
      this.core.check(this.core.x.vae_model_sample(h, n, seed ?? 0, seed === undefined ? 0 : 1, out), where);
      return this.core.f32(out, n * dim).slice();
    }));
  }

  /**
   * Anomaly scores, one per row, higher = more anomalous: `'elbo'` (VAE default) the negative ELBO, `'logLikelihood'`
   * (VAE) −L_k, the importance-weighted bound with `samples` = k (default 100), `'reconstruction'` (the
   * autoencoder's only method) the reconstruction term; ε averaged over `samples` draws (default 1), from `seed` if
   * given. `perColumn` (rows × input values) is each value's share of its row's reconstruction term (mean over the
   * draws): which pixels or columns make a row unusual. Use `threshold` on scores of normal data to flag rows.
   */
  score(x: DataInput, options: ScoreOptions = {}): ScoreResult {
    const where = `${this.className}.score`;
    checkObject(where, 'options', options);
    checkKeys(where, options, ['method', 'samples', 'seed', 'condition']);
    const methods: ScoreResult['method'][] = this.isVae ? ['elbo', 'logLikelihood', 'reconstruction'] : ['reconstruction'];
    const method = (options.method as ScoreResult['method'] | undefined) ?? (this.isVae ? 'elbo' : 'reconstruction');
    if (!methods.includes(method)) {
      fail(where, 'options.method', method, `one of ${methods.map((m) => JSON.stringify(m)).join(', ')}${this.isVae ? '' : ' (an autoencoder has no ELBO or likelihood bound)'}`);
    }
    const k = options.samples === undefined ? (method === 'logLikelihood' ? 100 : 1) : positiveInt(where, 'samples', options.samples, 1 << 24);
    const seed = seedOption(where, options.seed);
    const m = this.matrix('score', 'x', x);
    const c = this.conditionOf(where, 'options.condition', options.condition, m.rows);
    const h = this.handle;
    const core = this.core;
    const dim = this.inputDim;
    return this.withCondition(c, () => this.withMatrix(m, (p, alloc) => {
      const rec = alloc(m.rows * 4);
      const kl = alloc(m.rows * 4);
      const elem = alloc(m.rows * dim * 4);
      const stats = alloc(16);
      // The reconstruction's shares (and, for 'elbo' and 'reconstruction', the scores) from one evaluation.
      const draws = method === 'logLikelihood' ? Math.min(k, 1 << 16) : k;
      core.check(core.x.vae_model_evaluate(h, p, m.dtype, m.rows, draws, seed ?? 0, seed === undefined ? 0 : 1, rec, kl, elem, stats), where);
      const perColumn = core.f32(elem, m.rows * dim).slice();
      const recs = core.f32(rec, m.rows);
      const kls = core.f32(kl, m.rows);
      const scores = new Float32Array(m.rows);
      if (method === 'logLikelihood') {
        const lk = alloc(m.rows * 8);
        const el = alloc(m.rows * 8);
        core.check(core.x.vae_model_log_likelihood(h, p, m.dtype, m.rows, k, seed ?? 0, seed === undefined ? 0 : 1, lk, el), where);
        const l = core.f64(lk, m.rows);
        for (let i = 0; i < m.rows; i++) scores[i] = -l[i]!;
      } else {
        for (let i = 0; i < m.rows; i++) scores[i] = method === 'elbo' ? recs[i]! + kls[i]! : recs[i]!;
      }
      const schema = this.schema;
      return schema ? { scores, perColumn: perSchemaColumn(schema, perColumn, m.rows), columns: schema.columns.map((col) => col.name), method } : { scores, perColumn, method };
    }));
  }

  /** Frees the model's wasm memory. Idempotent; any later use throws. */
  dispose(): void {
    if (this.#handle !== 0) {
      this.core.x.vae_model_free(this.#handle);
      this.#handle = 0;
      releaseThreads(this.core, this);
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
