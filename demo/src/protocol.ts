// Messages between the page (main.ts) and the training worker (worker.ts).

export interface Settings {
  /** 'mlp': one dense layer of `hidden` on each side; 'conv': the keras.io convolutional VAE (convLayers). */
  arch: 'mlp' | 'conv';
  latent: number;
  hidden: number;
  activation: 'relu' | 'tanh' | 'leakyRelu' | 'softplus';
  likelihood: 'bernoulli' | 'gaussian';
  learningRate: number;
  beta: number;
  batch: number;
  seed: number;
  /** Stop after this many steps (0: train until paused). */
  steps: number;
  /** A conditional VAE (CVAE) on the images' labels: conditionDim 10, the condition oneHot(label, 10). */
  conditional: boolean;
}

/** The table model: dense layers on the CSV's encoded rows, trained for `epochs`, then every row scored. */
export interface TableSettings {
  epochs: number;
  latent: number;
  hidden: number;
  learningRate: number;
  batch: number;
  seed: number;
}

/** What parseCsv inferred for one column. */
export interface ColumnInfo {
  name: string;
  kind: 'numeric' | 'binary' | 'categorical';
  /** numeric: mean and sd; binary: the two levels; categorical: the levels. */
  detail: string;
  levels?: string[];
}

export interface Dataset {
  images: Uint8Array | Float32Array;
  rows: number;
  cols: number;
  labels?: Uint8Array;
}

export type ToWorker =
  | { type: 'data'; train?: Dataset; test?: Dataset; name: string }
  | { type: 'start'; settings: Settings }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'reset' }
  | { type: 'save' }
  | { type: 'load'; bytes: Uint8Array }
  | { type: 'select'; a: number; b: number }
  | { type: 'decode'; z: Float32Array }
  | { type: 'hash' }
  /** A label file (IDX, one byte per image) for the images sent last, in their order (the worker splits it as it
   * split them). */
  | { type: 'labels'; name: string; labels: Uint8Array }
  /** The class a conditional model draws (samples, interpolation, sliders, manifold). */
  | { type: 'class'; digit: number }
  /** A CSV file's bytes: parse (schema inferred), train a table VAE, score every row. */
  | { type: 'table'; name: string; bytes: Uint8Array; settings: TableSettings };

export interface LossPoint {
  step: number;
  loss: number;
  reconstruction: number;
  kl: number;
}

export interface Views {
  step: number;
  /** Test images shown (rows × cols) and their reconstructions. */
  originals: Float32Array;
  reconstructions: Float32Array;
  samples: Float32Array;
  /** 2-D latent space only: decoded grid (grid² rows) and the test set's codes with labels. */
  manifold?: { grid: number; images: Float32Array; extent: number };
  codes?: { z: Float32Array; labels?: Uint8Array };
  /** Interpolation between the selected test images a and b, and a's code for the sliders. */
  interpolation: Float32Array;
  code: Float32Array;
  /** A conditional model: the class the samples, interpolation, manifold and sliders are drawn under. */
  digit?: number;
}

export type FromWorker =
  | { type: 'ready'; name: string; trainRows: number; testRows: number; cols: number; side: number }
  | { type: 'model'; settings: Settings; threads: number; threadsNote?: string; parameters: number }
  | { type: 'progress'; step: number; epoch: number; train: LossPoint[]; validation: LossPoint[]; samplesPerSecond: number }
  | { type: 'views'; views: Views }
  | { type: 'decoded'; image: Float32Array; z: Float32Array; digit?: number }
  | { type: 'saved'; bytes: Uint8Array }
  | { type: 'hash'; hex: string }
  | { type: 'done'; step: number }
  | { type: 'error'; message: string }
  | { type: 'labelled'; name: string; trainRows: number; testRows: number }
  | { type: 'tableSchema'; name: string; rows: number; width: number; columns: ColumnInfo[]; ignored: string[]; warnings: string[]; preamble?: string }
  | { type: 'tableProgress'; epoch: number; epochs: number; loss: number }
  /** scores: one per row (−ELBO, higher = more anomalous); perColumn: rows × columns, each column's share. */
  | { type: 'tableScores'; scores: Float32Array; perColumn: Float32Array; columns: string[]; parameters: number; seconds: number }
  | { type: 'tableError'; message: string }
  /** What the worker is about to do or just did (window.__demo.trace keeps the last ones: a page that stops
   * answering then shows where its worker stopped). */
  | { type: 'trace'; text: string };
