/**
 * Validation and defaults for configs and options. Every check runs before the core is touched, and every error
 * names the argument, what was given and what was expected.
 */
import { type CorePlan, MAX_ELEMENTS, MAX_UNITS } from './core/abi';
import { ACTIVATIONS, mirrorDecoder, planLayers, type ResolvedLayer, type ResolvedOutput, resolveLayers, resolveOutput, impliedOutput } from './layers';
import type {
  Activation, AutoencoderConfig, FitOptions, Init, LikelihoodGroup, LossGroup, OptimizerConfig, VAEConfig,
} from './types';
import type { MatrixRules } from './data';
import { checkSchema, schemaLikelihood, schemaLoss, type TableSchema } from './schema';

/** Longest description `describe` returns, in characters. */
export const DESCRIBE_MAX = 160;

/**
 * Whether an array's memory (or a buffer) was transferred away (postMessage with a transfer list, or a worker's
 * transfer): it then reads as empty, which would otherwise be all an error could say about it.
 */
export function isDetached(v: unknown): boolean {
  const buf = ArrayBuffer.isView(v) ? v.buffer : v;
  if (!(buf instanceof ArrayBuffer) || buf.byteLength !== 0) return false;
  try {
    new Uint8Array(buf, 0, 0);
    return false;
  } catch {
    return true; // "Cannot perform Construct on a detached ArrayBuffer"
  }
}

/** Throws a TypeError naming `what` if `v`'s memory was transferred away (see [[isDetached]]). */
export function rejectDetached(where: string, what: string, v: unknown): void {
  if (isDetached(v)) {
    throw new TypeError(`${where}: ${what}: its ArrayBuffer is detached: it was transferred (postMessage with a transfer list) and reads as empty; pass the data before transferring it, or a copy`);
  }
}

/**
 * A short description of any value for error messages: bounded in size (at most DESCRIBE_MAX characters) and in
 * time (at most 5 items per array or object, 2 levels deep, typed arrays by type and length only), whatever is
 * given: 60,000 images, a deeply nested array, a throwing getter or a revoked Proxy.
 */
export function describe(v: unknown): string {
  let s: string;
  try {
    s = describeValue(v, 0);
  } catch {
    s = 'a value that cannot be inspected';
  }
  return s.length > DESCRIBE_MAX ? `${s.slice(0, DESCRIBE_MAX - 1)}…` : s;
}

const ITEMS = 5;
const DEPTH = 2;

function className(v: object): string | undefined {
  const c = (v as { constructor?: { name?: unknown } }).constructor;
  return typeof c === 'function' && typeof c.name === 'string' && c.name !== '' ? c.name.slice(0, 40) : undefined;
}

function describeValue(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'string': return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}… (${v.length} characters)` : JSON.stringify(v);
    case 'number': case 'boolean': case 'undefined': return String(v);
    case 'bigint': return v > -(10n ** 20n) && v < 10n ** 20n ? `${v}n` : 'a bigint';
    case 'symbol': return 'a symbol';
    case 'function': return 'a function';
  }
  if (v === null) return 'null';
  const o = v as object;
  if (ArrayBuffer.isView(o)) {
    const n = 'length' in o ? (o as unknown as ArrayLike<unknown>).length : o.byteLength;
    return `${className(o) ?? 'ArrayBufferView'}(${n})${isDetached(o) ? ' (detached: transferred away)' : ''}`;
  }
  if (o instanceof ArrayBuffer) return isDetached(o) ? 'a detached ArrayBuffer (transferred away)' : `ArrayBuffer(${o.byteLength} bytes)`;
  if (Array.isArray(o)) {
    const n = o.length;
    if (n === 0) return '[]';
    if (depth >= DEPTH) return `[…${n} items]`;
    const items: string[] = [];
    for (let i = 0; i < Math.min(n, ITEMS); i++) items.push(describeValue(o[i], depth + 1));
    return `[${items.join(', ')}${n > ITEMS ? `, … ${n} items in all` : ''}]`;
  }
  if (o instanceof Map || o instanceof Set) return `${className(o)}(${o.size})`;
  const name = className(o);
  const prefix = name === undefined || name === 'Object' ? '' : `${name} `;
  if (depth >= DEPTH) return `${prefix}{…}`;
  const parts: string[] = [];
  let more = false;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    if (parts.length === ITEMS) { more = true; break; }
    let value: string;
    try {
      value = describeValue((o as Record<string, unknown>)[k], depth + 1);
    } catch {
      value = '?';
    }
    parts.push(`${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k.slice(0, 40))}: ${value}`);
  }
  return parts.length === 0 ? `${prefix}{}` : `${prefix}{ ${parts.join(', ')}${more ? ', …' : ''} }`;
}

export function fail(where: string, what: string, given: unknown, expected: string): never {
  throw new TypeError(`${where}: ${what} must be ${expected}, got ${describe(given)}`);
}

export function checkKeys(where: string, obj: object, allowed: readonly string[], what = 'option'): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new TypeError(`${where}: unknown ${what} ${JSON.stringify(k)}; expected one of ${allowed.join(', ')}`);
    }
  }
}

export function seedOption(where: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) fail(where, 'seed', v, 'an integer in [0, 2^32)');
  return v;
}

/**
 * The training objective of `opts` (fit's options, or lossAndGradients'): 'elbo' by default. The bound L_k has no KL
 * term to weight, so with 'iwae' β and its warm-up must be left out (or at their neutral 1 and 0).
 */
export function objectiveOption(where: string, opts: { objective?: unknown; klWeight?: unknown; klWarmupEpochs?: unknown }): 'elbo' | 'iwae' {
  const objective = opts.objective === undefined ? 'elbo' : oneOf(where, 'objective', opts.objective, ['elbo', 'iwae'] as const);
  if (objective === 'iwae') {
    for (const k of ['klWeight', 'klWarmupEpochs'] as const) {
      if (opts[k] !== undefined && opts[k] !== (k === 'klWeight' ? 1 : 0)) fail(where, k, opts[k], "left out with objective 'iwae' (the importance-weighted bound has no KL term to weight)");
    }
  }
  return objective;
}

export function checkObject(where: string, what: string, v: unknown): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, what, v, 'an object');
}

export function positiveInt(where: string, what: string, v: unknown, max = 2 ** 31 - 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    fail(where, what, v, `an integer in [1, ${max}]`);
  }
  return v;
}

export function nonNegativeNumber(where: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(where, what, v, 'a finite number ≥ 0');
  return v;
}

export function positiveNumber(where: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(where, what, v, 'a finite number > 0');
  return v;
}

/** A probability-like coefficient in [0, 1). */
function unitInterval(where: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) fail(where, what, v, 'a number in [0, 1)');
  return v;
}

function oneOf<T extends string>(where: string, what: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) {
    fail(where, what, v, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
  }
  return v as T;
}

const LAYER_KEYS = ['inputDim', 'inputShape', 'latentDim', 'encoder', 'decoder', 'output', 'activation', 'leakySlope', 'init', 'seed', 'threads', 'schema'] as const;

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * A config with a table's `schema`: the row's width is the schema's, and the reconstruction term (`key`:
 * likelihood or loss) defaults to the schema's per-column groups. The schema is checked, copied (a caller's later
 * edits do not reach the model) and frozen.
 */
function withSchema(where: string, config: Record<string, unknown>, key: 'likelihood' | 'loss'): { config: Record<string, unknown>; schema?: TableSchema } {
  if (config.schema === undefined) return { config };
  checkSchema(config.schema, where);
  // Frozen: model.schema is this object, so an edit through it would change toRows and what save writes.
  const schema = deepFreeze(JSON.parse(JSON.stringify(config.schema)) as TableSchema);
  if (config.inputShape !== undefined) fail(where, 'inputShape', config.inputShape, `left out with a schema: a table's rows are flat (${schema.width} values)`);
  if (config.inputDim !== undefined && config.inputDim !== schema.width) fail(where, 'inputDim', config.inputDim, `left out or ${schema.width}, the schema's width`);
  const groups = key === 'likelihood' ? schemaLikelihood(schema) : schemaLoss(schema);
  return { config: { ...config, inputDim: schema.width, [key]: config[key] ?? groups }, schema };
}

/** The layers part of a config, checked and with defaults: what `model.config` reports. */
interface ResolvedNetwork {
  inputDim: number;
  inputShape?: number[];
  latentDim: number;
  encoder: ResolvedLayer[];
  decoder: ResolvedLayer[];
  output?: ResolvedOutput;
  activation: Activation;
  leakySlope: number;
  init: Init;
  seed: number;
  /** The table's schema the rows are encoded with (models of CSV tables). */
  schema?: TableSchema;
}

function inputShapeOf(where: string, c: Record<string, unknown>): { inputDim: number; inputShape?: number[] } {
  if (c.inputShape === undefined) {
    if (c.inputDim === undefined) fail(where, 'inputDim', undefined, 'given (or inputShape): the width of each data row');
    return { inputDim: positiveInt(where, 'inputDim', c.inputDim, MAX_ELEMENTS) };
  }
  const s = c.inputShape;
  if (!Array.isArray(s) || (s.length !== 1 && s.length !== 3)) fail(where, 'inputShape', s, '[height, width, channels] or [length]');
  const inputShape = s.map((d, i) => positiveInt(where, `inputShape[${i}]`, d, MAX_UNITS));
  const inputDim = inputShape.reduce((a, b) => a * b, 1);
  if (inputDim > MAX_ELEMENTS) fail(where, 'inputShape', s, `a shape of at most ${MAX_ELEMENTS} values`);
  if (c.inputDim !== undefined && c.inputDim !== inputDim) {
    fail(where, 'inputDim', c.inputDim, `left out or ${inputDim}, the size of inputShape [${inputShape.join(', ')}]`);
  }
  return { inputDim, inputShape };
}

function network(where: string, c: Record<string, unknown>): ResolvedNetwork {
  const { inputDim, inputShape } = inputShapeOf(where, c);
  const latentDim = positiveInt(where, 'latentDim', c.latentDim, MAX_UNITS);
  const encoder = c.encoder === undefined ? [400] : resolveLayers(where, 'encoder', c.encoder);
  const decoder = c.decoder === undefined ? mirrorDecoder(where, encoder) : resolveLayers(where, 'decoder', c.decoder);
  const output = resolveOutput(where, c.output, impliedOutput(inputShape ?? [inputDim]));
  const activation = c.activation === undefined ? 'relu' : oneOf(where, 'activation', c.activation, ACTIVATIONS);
  const leakySlope = c.leakySlope === undefined ? 0.01 : c.leakySlope;
  if (typeof leakySlope !== 'number' || !Number.isFinite(leakySlope)) fail(where, 'leakySlope', leakySlope, 'a finite number');
  const seed = c.seed === undefined ? 0 : c.seed;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    fail(where, 'seed', seed, 'an integer in [0, 2^32)');
  }
  const init = parseInit(where, c.init);
  return {
    inputDim, ...(inputShape ? { inputShape } : {}), latentDim, encoder, decoder, ...(output ? { output } : {}),
    activation, leakySlope, init: init.init === 'normal' ? { normal: init.initStd } : init.init, seed,
  };
}

function parseInit(where: string, v: unknown): { init: CorePlan['init']; initStd: number } {
  if (v === undefined) return { init: 'lecun-uniform', initStd: 0 };
  if (v === 'lecun-uniform' || v === 'glorot-uniform') return { init: v, initStd: 0 };
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    checkKeys(where, v, ['normal'], 'init option');
    const std = (v as { normal?: unknown }).normal;
    return { init: 'normal', initStd: nonNegativeNumber(where, 'init.normal', std) };
  }
  return fail(where, 'init', v, '"lecun-uniform", "glorot-uniform" or { normal: std }');
}

/** The core's plan for a resolved network, and each descriptor layer's name (for messages). */
function corePlan(n: ResolvedNetwork, kind: CorePlan['kind'], recon: CorePlan['recon'], variance: number): { plan: CorePlan; names: string[] } {
  const { layers, names, input } = planLayers({ inputShape: n.inputShape ?? [n.inputDim], activation: n.activation, encoder: n.encoder, decoder: n.decoder, output: n.output });
  const init = typeof n.init === 'object' ? { init: 'normal' as const, initStd: n.init.normal } : { init: n.init, initStd: 0 };
  return { plan: { kind, recon, leakySlope: n.leakySlope, variance, ...init, seed: n.seed, input, latentDim: n.latentDim, layers }, names };
}

/** The fully resolved configuration of a VAE (what `model.config` returns and what is saved). */
export type ResolvedVAEConfig = ResolvedNetwork & { likelihood: 'bernoulli' | 'gaussian' | LikelihoodGroup[]; variance: number | 'learned'; conditionDim?: number };
export type ResolvedAutoencoderConfig = ResolvedNetwork & { loss: 'bce' | 'mse' | LossGroup[] };

type CoreGroups = NonNullable<CorePlan['groups']>;

/** Checks likelihood (or loss) groups: known types, integer widths covering the row exactly. */
function groups<G extends { type: string; width: number }>(where: string, what: string, v: unknown, dim: number, kinds: Record<string, (g: Record<string, unknown>, at: string) => CoreGroups[number]['recon']>): { resolved: G[]; core: CoreGroups } {
  if (!Array.isArray(v) || v.length === 0 || v.length > 256) fail(where, what, v, 'an array of 1 to 256 groups { type, width }');
  const resolved: G[] = [];
  const core: CoreGroups = [];
  let start = 0;
  v.forEach((g, i) => {
    const at = `${what}[${i}]`;
    checkObject(where, at, g);
    const type = oneOf(where, `${at}.type`, g.type, Object.keys(kinds));
    const width = positiveInt(where, `${at}.width`, g.width, MAX_ELEMENTS);
    if (type === 'categorical' && width < 2) fail(where, `${at}.width`, width, 'at least 2 (the levels of the category)');
    const recon = kinds[type]!(g, at);
    resolved.push({ ...g } as unknown as G);
    core.push({ recon, start, width });
    start += width;
  });
  if (start !== dim) fail(where, `${what}'s widths`, v.map((g: { width?: unknown }) => g.width), `widths summing to the ${dim} values of a row (they sum to ${start})`);
  return { resolved, core };
}

/** What data must satisfy for these groups: values in [0, 1] where a Bernoulli or categorical term reads them,
 * and each categorical group summing to 1. */
export function groupRules(core: CoreGroups | undefined, recon: CorePlan['recon'], dim: number): MatrixRules {
  if (!core) return { unit: recon === 'bernoulli' };
  const unit = new Uint8Array(dim);
  const simplex: { start: number; width: number }[] = [];
  for (const g of core) {
    if (g.recon === 'bernoulli' || g.recon === 'categorical') unit.fill(1, g.start, g.start + g.width);
    if (g.recon === 'categorical') simplex.push({ start: g.start, width: g.width });
  }
  return { unit, simplex };
}

/** A checked config: what the model reports, what the core compiles, and the runtime thread setting. */
export interface Resolved<C> {
  resolved: C;
  plan: CorePlan;
  /** Where each descriptor layer came from ("encoder[2] (conv2d)"), for the core's shape errors. */
  names: string[];
  threads: number | 'auto';
}

/** Largest thread count accepted (`MAX_THREADS` in crate/src/par.rs). */
export const MAX_THREADS = 64;

/** A `threads` option: undefined or 'auto' → 'auto', else an integer in [1, MAX_THREADS]. */
export function threadsOption(where: string, v: unknown): number | 'auto' {
  if (v === undefined || v === 'auto') return 'auto';
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_THREADS) fail(where, 'threads', v, `'auto' or an integer in [1, ${MAX_THREADS}]`);
  return v;
}

export function resolveVAEConfig(where: string, given: unknown): Resolved<ResolvedVAEConfig> {
  checkObject(where, 'config', given);
  checkKeys(where, given, [...LAYER_KEYS, 'likelihood', 'variance', 'conditionDim']);
  const { config, schema } = withSchema(where, given, 'likelihood');
  const n = { ...network(where, config), ...(schema ? { schema } : {}) };
  const conditionDim = config.conditionDim === undefined ? 0 : positiveInt(where, 'conditionDim', config.conditionDim, MAX_UNITS);
  const conditional = <T extends { resolved: ResolvedVAEConfig; plan: CorePlan }>(r: T): T => {
    if (conditionDim > 0) {
      r.plan.condition = conditionDim;
      r.resolved.conditionDim = conditionDim;
    }
    return r;
  };
  if (Array.isArray(config.likelihood)) {
    let learnedAll = false;
    const fixed = config.variance === undefined ? 1 : config.variance === 'learned' ? (learnedAll = true, 1) : positiveNumber(where, 'variance', config.variance);
    const g = groups<LikelihoodGroup>(where, 'likelihood', config.likelihood, n.inputDim, {
      bernoulli: (x, at) => { checkKeys(where, x, ['type', 'width'], `key of ${at}`); return 'bernoulli'; },
      categorical: (x, at) => { checkKeys(where, x, ['type', 'width'], `key of ${at}`); return 'categorical'; },
      gaussian: (x, at) => {
        checkKeys(where, x, ['type', 'width', 'variance'], `key of ${at}`);
        if (x.variance !== undefined && x.variance !== 'learned') fail(where, `${at}.variance`, x.variance, "'learned' or left out (fixed groups share the model's variance)");
        return x.variance === 'learned' || learnedAll ? 'gaussianLearned' : 'gaussian';
      },
    });
    const { plan, names } = corePlan(n, 'vae', g.core[0]!.recon, fixed);
    plan.groups = g.core;
    const variance = config.variance === undefined ? 1 : learnedAll ? 'learned' : fixed;
    return conditional({ resolved: { ...n, likelihood: g.resolved, variance }, plan, names, threads: threadsOption(where, config.threads) });
  }
  const likelihood = config.likelihood === undefined ? 'bernoulli' : oneOf(where, 'likelihood', config.likelihood, ['bernoulli', 'gaussian'] as const);
  let variance: number | 'learned' = 1;
  if (config.variance !== undefined) {
    if (likelihood !== 'gaussian') fail(where, 'variance', config.variance, 'left out unless likelihood is "gaussian"');
    variance = config.variance === 'learned' ? 'learned' : positiveNumber(where, 'variance', config.variance);
  }
  const recon = likelihood === 'bernoulli' ? 'bernoulli' : variance === 'learned' ? 'gaussianLearned' : 'gaussian';
  const { plan, names } = corePlan(n, 'vae', recon, typeof variance === 'number' ? variance : 1);
  return conditional({ resolved: { ...n, likelihood, variance }, plan, names, threads: threadsOption(where, config.threads) });
}

export function resolveAutoencoderConfig(where: string, given: unknown): Resolved<ResolvedAutoencoderConfig> {
  checkObject(where, 'config', given);
  checkKeys(where, given, [...LAYER_KEYS, 'loss']);
  const { config, schema } = withSchema(where, given, 'loss');
  const n = { ...network(where, config), ...(schema ? { schema } : {}) };
  if (Array.isArray(config.loss)) {
    const plain = (r: CoreGroups[number]['recon']) => (x: Record<string, unknown>, at: string) => { checkKeys(where, x, ['type', 'width'], `key of ${at}`); return r; };
    const g = groups<LossGroup>(where, 'loss', config.loss, n.inputDim, { bce: plain('bernoulli'), mse: plain('squaredError'), categorical: plain('categorical') });
    const { plan, names } = corePlan(n, 'autoencoder', g.core[0]!.recon === 'categorical' ? 'bernoulli' : g.core[0]!.recon, 1);
    plan.groups = g.core;
    return { resolved: { ...n, loss: g.resolved }, plan, names, threads: threadsOption(where, config.threads) };
  }
  const loss = config.loss === undefined ? 'bce' : oneOf(where, 'loss', config.loss, ['bce', 'mse'] as const);
  const { plan, names } = corePlan(n, 'autoencoder', loss === 'bce' ? 'bernoulli' : 'squaredError', 1);
  return { resolved: { ...n, loss }, plan, names, threads: threadsOption(where, config.threads) };
}

export interface ResolvedOptimizer {
  name: 'adam' | 'sgd' | 'adagrad';
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  momentum: number;
  weightDecay: number;
}

export function resolveOptimizer(where: string, v: OptimizerConfig | undefined): ResolvedOptimizer {
  if (v === undefined) return { name: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, momentum: 0, weightDecay: 0 };
  checkObject(where, 'optimizer', v);
  const name = oneOf(where, 'optimizer.name', v.name, ['adam', 'sgd', 'adagrad'] as const);
  const keys = { adam: ['beta1', 'beta2', 'epsilon'], sgd: ['momentum'], adagrad: ['epsilon'] }[name];
  checkKeys(where, v, ['name', 'learningRate', 'weightDecay', ...keys], `${name} optimizer option`);
  const o = v as Record<string, unknown>;
  const num = (k: string, d: number, check: (w: string, what: string, x: unknown) => number): number =>
    (o[k] === undefined ? d : check(where, `optimizer.${k}`, o[k]));
  // The update runs in float32: a β that rounds to 1 there zeroes Adam's bias correction, an ε that rounds to 0 or a
  // rate that rounds to ∞ makes 0/0 or 0·∞; each would write NaN into the weights on the first step.
  const f32 = (check: (w: string, what: string, x: unknown) => number, ok: (f: number) => boolean, expected: string) =>
    (w: string, what: string, x: unknown): number => {
      const v = check(w, what, x);
      if (!ok(Math.fround(v))) fail(w, what, v, `${expected} in float32, which the optimizer computes in`);
      return v;
    };
  const below1 = f32(unitInterval, (f) => f < 1, 'a number in [0, 1) that stays below 1 (at most 0.99999994)');
  const positive = f32(positiveNumber, (f) => f > 0 && f !== Infinity, 'a number > 0 that stays above 0 and finite (1.4e-45 to 3.4e38)');
  const resolved = {
    name,
    learningRate: num('learningRate', name === 'adam' ? 1e-3 : 0.01, positive),
    beta1: num('beta1', 0.9, below1),
    beta2: num('beta2', 0.999, below1),
    epsilon: num('epsilon', name === 'adagrad' ? 1e-10 : 1e-8, positive),
    momentum: num('momentum', 0, unitInterval),
    weightDecay: num('weightDecay', 0, f32(nonNegativeNumber, (f) => f !== Infinity, 'a number ≥ 0 that stays finite (at most 3.4e38)')),
  };
  // Adam's first step moves by learningRate / (1 − beta1), computed in float32 too.
  const firstStep = Math.fround(resolved.learningRate / (1 - Math.fround(resolved.beta1)));
  if (name === 'adam' && !Number.isFinite(firstStep)) {
    throw new RangeError(`${where}: optimizer.learningRate ${resolved.learningRate} with beta1 ${resolved.beta1} makes Adam's first step, learningRate / (1 − beta1), overflow float32; expected a learning rate below ${(3.4e38 * (1 - Math.fround(resolved.beta1))).toPrecision(2)}`);
  }
  return resolved;
}

export interface ResolvedFit {
  epochs: number;
  batchSize: number;
  shuffle: boolean;
  optimizer: ResolvedOptimizer;
  klWeight: number;
  klWarmupEpochs: number;
  samples: number;
  binarize: boolean;
  objective: 'elbo' | 'iwae';
  onNonFinite: 'throw' | 'skip';
  threads: number | 'auto' | undefined;
}

const FIT_KEYS = ['epochs', 'batchSize', 'shuffle', 'optimizer', 'klWeight', 'klWarmupEpochs', 'samples', 'binarize', 'objective', 'condition', 'validationCondition',
  'validationData', 'onBatchEnd', 'onEpochEnd', 'signal', 'checkpoint', 'onNonFinite', 'threads'] as const;

export function resolveFit(where: string, o: FitOptions | undefined, isVae: boolean): ResolvedFit {
  const opts = o ?? {};
  checkObject(where, 'options', opts);
  checkKeys(where, opts, isVae ? FIT_KEYS : FIT_KEYS.filter((k) => !['klWeight', 'klWarmupEpochs', 'samples', 'objective'].includes(k)));
  for (const k of ['onBatchEnd', 'onEpochEnd'] as const) {
    if (opts[k] !== undefined && typeof opts[k] !== 'function') fail(where, k, opts[k], 'a function');
  }
  if (opts.signal !== undefined && !(typeof opts.signal === 'object' && opts.signal !== null && 'aborted' in opts.signal)) {
    fail(where, 'signal', opts.signal, 'an AbortSignal');
  }
  if (opts.shuffle !== undefined && typeof opts.shuffle !== 'boolean') fail(where, 'shuffle', opts.shuffle, 'a boolean');
  if (opts.checkpoint !== undefined) {
    checkObject(where, 'checkpoint', opts.checkpoint);
    checkKeys(where, opts.checkpoint, ['everyEpochs', 'path', 'onCheckpoint'], 'checkpoint option');
    positiveInt(where, 'checkpoint.everyEpochs', opts.checkpoint.everyEpochs, 1e9);
    const { path, onCheckpoint } = opts.checkpoint;
    if (path !== undefined && (typeof path !== 'string' || path === '')) fail(where, 'checkpoint.path', path, 'a non-empty file path');
    if (onCheckpoint !== undefined && typeof onCheckpoint !== 'function') fail(where, 'checkpoint.onCheckpoint', onCheckpoint, 'a function');
    if (path === undefined && onCheckpoint === undefined) fail(where, 'checkpoint', opts.checkpoint, 'given a path or an onCheckpoint callback');
  }
  const binarize = opts.binarize === undefined ? 'none' : oneOf(where, 'binarize', opts.binarize, ['none', 'dynamic'] as const);
  const objective = objectiveOption(where, opts);
  return {
    epochs: opts.epochs === undefined ? 1 : positiveInt(where, 'epochs', opts.epochs, 1e9),
    batchSize: opts.batchSize === undefined ? 128 : positiveInt(where, 'batchSize', opts.batchSize, 1 << 20),
    shuffle: opts.shuffle ?? true,
    optimizer: resolveOptimizer(where, opts.optimizer as OptimizerConfig | undefined),
    klWeight: opts.klWeight === undefined ? 1 : nonNegativeNumber(where, 'klWeight', opts.klWeight),
    klWarmupEpochs: opts.klWarmupEpochs === undefined ? 0 : nonNegativeNumber(where, 'klWarmupEpochs', opts.klWarmupEpochs),
    samples: opts.samples === undefined ? 1 : positiveInt(where, 'samples', opts.samples, 4096),
    binarize: binarize === 'dynamic',
    objective,
    onNonFinite: opts.onNonFinite === undefined ? 'throw' : oneOf(where, 'onNonFinite', opts.onNonFinite, ['throw', 'skip'] as const),
    threads: opts.threads === undefined ? undefined : threadsOption(where, opts.threads),
  };
}
