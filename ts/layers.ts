/**
 * The layer vocabulary (TensorFlow.js's names, channels last): checking a user's `encoder` / `decoder` / `output`
 * lists, filling in defaults, and turning them into the core's plan. Shapes are not computed here: the core
 * compiles the plan (crate/src/plan.rs) and reports the first layer it cannot build, which `planErrorMessage`
 * words with that layer's name and the shape that reached it.
 */
import {
  type CoreLayer, type CorePlan, type CoreShape, MAX_KERNEL, MAX_LAYERS, MAX_UNITS, NONE, type PlanError, REASON, TOO_LARGE,
} from './core/abi';
import { checkKeys, fail, positiveInt } from './options';
import type { Activation, LayerSpec, OutputLayerSpec, Padding } from './types';

export const ACTIVATIONS: readonly Activation[] = ['relu', 'leakyRelu', 'tanh', 'sigmoid', 'softplus', 'linear'];
const PAIR_MAX = MAX_KERNEL;

/** A layer as `model.config` reports it and files save it: numbers stay numbers, objects get every field. */
export type ResolvedLayer =
  | number
  | { type: 'dense'; units: number; activation?: Activation }
  | { type: 'conv2d'; filters: number; kernelSize: [number, number]; strides: [number, number]; padding: Padding; activation?: Activation }
  | { type: 'conv2dTranspose'; filters: number; kernelSize: [number, number]; strides: [number, number]; padding: Padding; outputPadding?: [number, number]; activation?: Activation }
  | { type: 'flatten' }
  | { type: 'reshape'; targetShape: number[] };

export type ResolvedOutput =
  | { type: 'dense' }
  | { type: 'conv2d'; kernelSize: [number, number]; strides: [number, number]; padding: Padding }
  | { type: 'conv2dTranspose'; kernelSize: [number, number]; strides: [number, number]; padding: Padding; outputPadding?: [number, number] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A number or [h, w] of integers in [min, max]. */
function pair(where: string, what: string, v: unknown, min: number, max: number): [number, number] {
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  return fail(where, what, v, `an integer in [${min}, ${max}] or [height, width] of such integers`);
}

function padding(where: string, what: string, v: unknown): Padding {
  if (v === undefined) return 'valid';
  if (v === 'same' || v === 'valid') return v;
  if (typeof v === 'number' || Array.isArray(v)) {
    const [h, w] = pair(where, what, v, 0, PAIR_MAX);
    return typeof v === 'number' ? h : [h, w];
  }
  return fail(where, what, v, `'same', 'valid', a number of rows and columns to pad on every side, or [rows, columns]`);
}

function activation(where: string, what: string, v: unknown): Activation | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !ACTIVATIONS.includes(v as Activation)) {
    fail(where, what, v, `one of ${ACTIVATIONS.map((a) => JSON.stringify(a)).join(', ')}`);
  }
  return v as Activation;
}

const TYPES = ['dense', 'conv2d', 'conv2dTranspose', 'flatten', 'reshape'] as const;
const CONV_KEYS = ['type', 'filters', 'kernelSize', 'strides', 'padding', 'activation'];

/** Checks one entry of an `encoder` or `decoder` list (`what` is e.g. "encoder[2]"). */
export function resolveLayer(where: string, what: string, v: unknown): ResolvedLayer {
  if (typeof v === 'number') return positiveInt(where, what, v, MAX_UNITS);
  if (!isObject(v)) return fail(where, what, v, `a layer width or a layer object { type: ${TYPES.map((t) => `'${t}'`).join(' | ')}, ... }`);
  const type = v.type;
  const act = () => activation(where, `${what}.activation`, v.activation);
  const withAct = <T extends object>(o: T): T & { activation?: Activation } => {
    const a = act();
    return a === undefined ? o : { ...o, activation: a };
  };
  switch (type) {
    case 'dense':
      checkKeys(where, v, ['type', 'units', 'activation'], `key of ${what} (dense)`);
      return withAct({ type, units: positiveInt(where, `${what}.units`, v.units, MAX_UNITS) });
    case 'conv2d':
    case 'conv2dTranspose': {
      checkKeys(where, v, type === 'conv2d' ? CONV_KEYS : [...CONV_KEYS, 'outputPadding'], `key of ${what} (${type})`);
      const base = {
        type,
        filters: positiveInt(where, `${what}.filters`, v.filters, MAX_UNITS),
        kernelSize: pair(where, `${what}.kernelSize`, v.kernelSize, 1, PAIR_MAX),
        strides: v.strides === undefined ? [1, 1] as [number, number] : pair(where, `${what}.strides`, v.strides, 1, PAIR_MAX),
        padding: padding(where, `${what}.padding`, v.padding),
      };
      if (type === 'conv2d') return withAct(base as Extract<ResolvedLayer, { type: 'conv2d' }>);
      const outputPadding = v.outputPadding === undefined ? undefined : pair(where, `${what}.outputPadding`, v.outputPadding, 0, PAIR_MAX);
      return withAct({ ...base, type, ...(outputPadding ? { outputPadding } : {}) } as Extract<ResolvedLayer, { type: 'conv2dTranspose' }>);
    }
    case 'flatten':
      checkKeys(where, v, ['type'], `key of ${what} (flatten: it has no options and no activation)`);
      return { type };
    case 'reshape': {
      checkKeys(where, v, ['type', 'targetShape'], `key of ${what} (reshape: it has no activation)`);
      const t = v.targetShape;
      if (!Array.isArray(t) || (t.length !== 1 && t.length !== 3)) {
        fail(where, `${what}.targetShape`, t, '[height, width, channels] or [length]');
      }
      return { type, targetShape: t.map((d, i) => positiveInt(where, `${what}.targetShape[${i}]`, d, MAX_UNITS)) };
    }
    default:
      return fail(where, `${what}.type`, type, `one of ${TYPES.map((t) => JSON.stringify(t)).join(', ')}`);
  }
}

/** Checks the `output` layer (its units or filters are implied by the input's shape). */
export function resolveOutput(where: string, v: unknown, implied: { units: number; filters: number }): ResolvedOutput | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) return fail(where, 'output', v, "a layer object { type: 'dense' | 'conv2d' | 'conv2dTranspose', ... }");
  const type = v.type;
  const given = (key: 'units' | 'filters', want: number) => {
    if (v[key] !== undefined && v[key] !== want) {
      fail(where, `output.${key}`, v[key], `left out or ${want}: the output layer produces the input's shape`);
    }
  };
  if (v.activation !== undefined) {
    fail(where, 'output.activation', v.activation, "left out: the output layer is linear and the likelihood applies its own link (sigmoid for 'bernoulli')");
  }
  switch (type) {
    case 'dense':
      checkKeys(where, v, ['type', 'units'], 'key of output (dense)');
      given('units', implied.units);
      return { type };
    case 'conv2d':
    case 'conv2dTranspose': {
      const keys = ['type', 'filters', 'kernelSize', 'strides', 'padding', ...(type === 'conv2dTranspose' ? ['outputPadding'] : [])];
      checkKeys(where, v, keys, `key of output (${type})`);
      given('filters', implied.filters);
      const base = {
        type,
        kernelSize: pair(where, 'output.kernelSize', v.kernelSize, 1, PAIR_MAX),
        strides: v.strides === undefined ? [1, 1] as [number, number] : pair(where, 'output.strides', v.strides, 1, PAIR_MAX),
        padding: padding(where, 'output.padding', v.padding),
      };
      if (type === 'conv2d' || v.outputPadding === undefined) return base as ResolvedOutput;
      return { ...base, type, outputPadding: pair(where, 'output.outputPadding', v.outputPadding, 0, PAIR_MAX) };
    }
    default:
      return fail(where, 'output.type', type, '"dense", "conv2d" or "conv2dTranspose"');
  }
}

/** Checks a list of layers (`what` is "encoder" or "decoder"). */
export function resolveLayers(where: string, what: string, v: unknown): ResolvedLayer[] {
  if (!Array.isArray(v)) return fail(where, what, v, 'an array of layers (widths or layer objects)');
  if (v.length > MAX_LAYERS - 1) fail(where, what, v, `at most ${MAX_LAYERS - 1} layers`);
  return v.map((l, i) => resolveLayer(where, `${what}[${i}]`, l));
}

/** The default decoder: the encoder's dense widths reversed (only when every encoder layer is dense). */
export function mirrorDecoder(where: string, encoder: ResolvedLayer[]): ResolvedLayer[] {
  const widths = encoder.map((l) => (typeof l === 'number' ? l : l.type === 'dense' && l.activation === undefined ? l.units : undefined));
  if (widths.some((w) => w === undefined)) {
    return fail(where, 'decoder', undefined, 'given: the default (the encoder reversed) exists only for encoders of dense layers');
  }
  return [...(widths as number[])].reverse();
}

const coreShape = (s: readonly number[]): CoreShape => (s.length === 3 ? { rank: 3, h: s[0]!, w: s[1]!, c: s[2]! } : { rank: 1, h: 1, w: 1, c: s[0]! });

export function formatShape(s: CoreShape): string {
  return s.rank === 3 ? `[${s.h}, ${s.w}, ${s.c}]` : `[${s.c}]`;
}

function coreLayer(l: ResolvedLayer | ResolvedOutput, implied: { units: number; filters: number }): CoreLayer {
  if (typeof l === 'number') return { kind: 'dense', units: l };
  switch (l.type) {
    case 'dense': return { kind: 'dense', units: 'units' in l ? l.units : implied.units };
    case 'conv2d':
    case 'conv2dTranspose': {
      const p = l.padding;
      const out: CoreLayer = {
        kind: l.type, filters: 'filters' in l ? l.filters : implied.filters, kernel: l.kernelSize, strides: l.strides,
        padding: p === 'same' || p === 'valid' ? p : typeof p === 'number' ? [p, p] : p,
      };
      if (l.type === 'conv2dTranspose' && l.outputPadding) out.outputPadding = l.outputPadding;
      return out;
    }
    case 'flatten': return { kind: 'flatten' };
    case 'reshape': return { kind: 'reshape', target: coreShape(l.targetShape) };
  }
}

export interface NetworkSpec {
  inputShape: readonly number[];
  activation: Activation;
  encoder: ResolvedLayer[];
  decoder: ResolvedLayer[];
  output?: ResolvedOutput;
}

/** The output layer's implied size: the input's values (dense) and channels (convolutions; 1 for flat data). */
export function impliedOutput(inputShape: readonly number[]): { units: number; filters: number } {
  return { units: inputShape.reduce((a, b) => a * b, 1), filters: inputShape.length === 3 ? inputShape[2]! : 1 };
}

/** The layers of the core's plan, and each one's name. */
export function planLayers(n: NetworkSpec): { layers: CorePlan['layers']; names: string[]; input: CoreShape } {
  const implied = impliedOutput(n.inputShape);
  const layers: CorePlan['layers'] = [];
  const names: string[] = [];
  const add = (section: 'encoder' | 'decoder', list: ResolvedLayer[]) => list.forEach((l, i) => {
    const kind = typeof l === 'number' ? 'dense' : l.type;
    const computes = kind !== 'flatten' && kind !== 'reshape';
    const act = typeof l === 'number' ? n.activation : 'activation' in l && l.activation !== undefined ? l.activation : computes ? n.activation : 'linear';
    layers.push({ section, activation: act, layer: coreLayer(l, implied) });
    names.push(`${section}[${i}] (${kind})`);
  });
  add('encoder', n.encoder);
  add('decoder', n.decoder);
  const out = n.output ?? { type: 'dense' as const };
  layers.push({ section: 'output', activation: 'linear', layer: coreLayer(out, implied) });
  names.push(`output (${out.type})`);
  return { layers, names, input: coreShape(n.inputShape) };
}

/** The message for a plan the core refused. */
export function planErrorMessage(e: PlanError, names: string[], inputShape: CoreShape): string {
  const layer = e.layer === NONE ? 'the model' : names[e.layer] ?? `layer ${e.layer}`;
  const input = formatShape(e.input);
  const output = formatShape(e.output);
  const [a, b, what] = e.detail;
  switch (e.reason) {
    case REASON.CONDITION:
      return e.layer === NONE
        ? 'the condition (conditionDim) is for VAEs, with at most 1048576 values per row'
        : `${layer}: the condition joins the decoder's first layer, which must be dense; put a dense layer first in the decoder`;
    case REASON.NEEDS_IMAGE:
      return `${layer} needs an image input [height, width, channels] but receives the flat ${input}; give the model an inputShape, or put a reshape layer before it`;
    case REASON.KERNEL_TOO_LARGE:
      return `${layer}: its ${a}×${b} kernel is larger than its input ${input} plus padding; use a smaller kernel, more padding or padding 'same'`;
    case REASON.EMPTY_OUTPUT:
      return `${layer}: its output on the input ${input} would have no pixels; reduce the padding or the stride`;
    case REASON.RESHAPE_SIZE:
      return `${layer}: targetShape holds ${a} values but its input ${input} has ${b}; expected a shape of ${b} values`;
    case REASON.OUTPUT_SHAPE:
      return `${layer} produces ${output} from ${input}, but the model's input is ${formatShape(inputShape)}; the output layer must give the input's shape (adjust the decoder so it ends one layer short of it)`;
    case REASON.TOO_LARGE: {
      const n = a >= 0xffffffff ? 'more than 4294967294' : String(a);
      if (e.layer === NONE) return `the input ${formatShape(inputShape)} is too large: ${n} values per row where at most ${b} are allowed`;
      if (what === TOO_LARGE.windows) return `${layer} is too large: its windows (output pixels × kernel × input channels) need ${n} values per row of data from ${input}, where at most ${b} are allowed; use a smaller kernel, a stride or fewer channels`;
      if (what === TOO_LARGE.weights) return `${layer} is too large: its ${n} weights on the input ${input} exceed the model's limit of ${b} parameters`;
      return `${layer} is too large: its output ${output} has ${n} values per row where at most ${b} are allowed`;
    }
    case REASON.ACTIVATION_NOT_ALLOWED:
      return `${layer} cannot have an activation`;
    case REASON.OUTPUT_KIND:
      return `${layer}: the output layer must be dense, conv2d or conv2dTranspose`;
    case REASON.OUTPUT_PADDING:
      return `${layer}: outputPadding ${a} must be smaller than the stride ${b}`;
    default:
      return `the core rejected the model descriptor (reason ${e.reason} at ${layer}); this is a bug in vae-wasm, please report it with the config`;
  }
}
