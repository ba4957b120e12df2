/** A minimal line chart as PNG (pngjs): series of points over a shared x range, with light grid lines; no text —
 * the markdown beside it gives the axes and legend. */
import { PNG } from 'pngjs';

export interface Series {
  points: [number, number][];
  /** RGB. */
  color: [number, number, number];
}

export function lineChartPng(series: Series[], { width = 640, height = 360, xRange, yRange, yStep }: {
  width?: number; height?: number; xRange: [number, number]; yRange: [number, number]; yStep: number;
}): Uint8Array {
  const png = new PNG({ width, height });
  png.data.fill(255);
  const pad = 24;
  const X = (x: number) => pad + ((x - xRange[0]) / (xRange[1] - xRange[0])) * (width - 2 * pad);
  const Y = (y: number) => height - pad - ((y - yRange[0]) / (yRange[1] - yRange[0])) * (height - 2 * pad);
  const set = (x: number, y: number, c: [number, number, number]) => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= width || yi >= height) return;
    const i = (yi * width + xi) * 4;
    png.data[i] = c[0]; png.data[i + 1] = c[1]; png.data[i + 2] = c[2]; png.data[i + 3] = 255;
  };
  const line = (x0: number, y0: number, x1: number, y1: number, c: [number, number, number], thick = 1) => {
    const n = Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))) + 1;
    for (let k = 0; k <= n; k++) {
      const x = x0 + ((x1 - x0) * k) / n;
      const y = y0 + ((y1 - y0) * k) / n;
      for (let dx = -thick + 1; dx < thick; dx++) for (let dy = -thick + 1; dy < thick; dy++) set(x + dx, y + dy, c);
    }
  };
  for (let y = Math.ceil(yRange[0] / yStep) * yStep; y <= yRange[1]; y += yStep) line(X(xRange[0]), Y(y), X(xRange[1]), Y(y), [225, 225, 225]);
  line(X(xRange[0]), Y(yRange[0]), X(xRange[1]), Y(yRange[0]), [0, 0, 0]);
  line(X(xRange[0]), Y(yRange[0]), X(xRange[0]), Y(yRange[1]), [0, 0, 0]);
  for (const s of series) {
    s.points.forEach(([x, y], i) => {
      if (i > 0) line(X(s.points[i - 1]![0]), Y(s.points[i - 1]![1]), X(x), Y(y), s.color, 2);
      for (let dx = -3; dx <= 3; dx++) for (let dy = -3; dy <= 3; dy++) if (dx * dx + dy * dy <= 9) set(X(x) + dx, Y(y) + dy, s.color);
    });
  }
  return PNG.sync.write(png);
}

/** Acklam's rational approximation of the normal quantile (relative error < 1.2e-9), for pictures' latent grids. */
export function probit(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** n × n points of a 2-D latent plane at Gaussian quantiles, row by row from the top (Kingma & Welling, figure 4). */
export function latentGrid(n: number): Float32Array {
  const z = new Float32Array(n * n * 2);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    z[(i * n + j) * 2] = probit((j + 0.5) / n);
    z[(i * n + j) * 2 + 1] = probit(1 - (i + 0.5) / n);
  }
  return z;
}
