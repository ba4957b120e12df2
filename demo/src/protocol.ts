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
  | { type: 'hash' };

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
}

export type FromWorker =
  | { type: 'ready'; name: string; trainRows: number; testRows: number; cols: number; side: number }
  | { type: 'model'; settings: Settings; threads: number; threadsNote?: string; parameters: number }
  | { type: 'progress'; step: number; epoch: number; train: LossPoint[]; validation: LossPoint[]; samplesPerSecond: number }
  | { type: 'views'; views: Views }
  | { type: 'decoded'; image: Float32Array }
  | { type: 'saved'; bytes: Uint8Array }
  | { type: 'hash'; hex: string }
  | { type: 'done'; step: number }
  | { type: 'error'; message: string };
