/**
 * Turning anomaly scores (`model.score`) into decisions: a threshold from the scores of normal data, and the ROC
 * area that measures how well scores separate two sets (the one-class protocol of Ruff et al. 2018).
 */
import { checkKeys, checkObject, fail } from './options';

function finiteScores(where: string, scores: unknown): Float64Array {
  if (!(scores instanceof Float32Array || scores instanceof Float64Array || Array.isArray(scores)) || scores.length === 0) {
    return fail(where, 'scores', scores, 'a non-empty Float32Array, Float64Array or number[] of scores');
  }
  const s = Float64Array.from(scores as ArrayLike<number>);
  const bad = s.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) fail(where, `scores[${bad}]`, s[bad], 'a finite number');
  return s;
}

/**
 * The score above which a row is flagged, from scores of normal (validation) data: their `quantile` (default
 * 0.99), or the 1 − `falsePositiveRate` quantile. Linear interpolation between order statistics.
 */
export function threshold(scores: ArrayLike<number>, options: { quantile?: number; falsePositiveRate?: number } = {}): number {
  const where = 'threshold';
  checkObject(where, 'options', options);
  checkKeys(where, options, ['quantile', 'falsePositiveRate']);
  if (options.quantile !== undefined && options.falsePositiveRate !== undefined) {
    fail(where, 'options', options, 'given one of quantile and falsePositiveRate, not both');
  }
  const unit = (what: string, v: unknown) => {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(where, what, v, 'a number in [0, 1]');
    return v;
  };
  const q = options.falsePositiveRate !== undefined ? 1 - unit('falsePositiveRate', options.falsePositiveRate)
    : options.quantile !== undefined ? unit('quantile', options.quantile) : 0.99;
  const s = finiteScores(where, scores).sort();
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (at - lo);
}

/** Area under the ROC curve for `anomalous` scoring above `normal` (ties count half): P(score_a > score_n). */
export function auroc(normal: ArrayLike<number>, anomalous: ArrayLike<number>): number {
  const n = finiteScores('auroc', normal);
  const a = finiteScores('auroc', anomalous);
  // Rank-sum (Mann–Whitney U) over the pooled scores, with average ranks for ties.
  const all = [...Array.from(n, (v) => [v, 0] as const), ...Array.from(a, (v) => [v, 1] as const)].sort((x, y) => x[0] - y[0]);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]![0] === all[i]![0]) j++;
    const rank = (i + j + 1) / 2; // average of ranks i+1 … j
    for (let t = i; t < j; t++) if (all[t]![1] === 1) rankSum += rank;
    i = j;
  }
  return (rankSum - (a.length * (a.length + 1)) / 2) / (a.length * n.length);
}
