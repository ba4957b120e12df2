/**
 * vae-wasm: Variational Autoencoders and classical autoencoders trained on a SIMD WebAssembly core.
 * @packageDocumentation
 */
import './globals';
export { VAE } from './vae';
export { Autoencoder } from './autoencoder';
export { convLayers } from './architectures';
export { auroc, threshold } from './anomaly';
export type { ConvLayersOptions } from './architectures';
export { loadIdx, idxImages, idxLabels, oneHot } from './idx';
export type { IdxArray } from './idx';
export { loadNpy } from './npy';
export type { NpyArray } from './npy';
export { fromImageData, fromCanvas, fromImageBitmap, fromFiles } from './images';
export type { ImageSet, ImageOptions, RgbaImage, CanvasLike, DrawableLike } from './images';
export { loadImages } from './image-files';
export { parseCsv, loadCsv } from './csv';
export type { CsvOptions, ParsedTable } from './csv';
export { decodeRows, describeColumn, schemaLikelihood, schemaLoss } from './schema';
export type { TableSchema, ColumnSchema, ColumnKind, NumericColumn, BinaryColumn, CategoricalColumn, DecodedRows } from './schema';
export { encodeSafetensors, decodeSafetensors } from './safetensors';
export { init, simdSupported } from './core/wasm';
export type { InitOptions, WasmSource } from './core/wasm';
export type * from './types';
export type { ResolvedVAEConfig, ResolvedAutoencoderConfig } from './options';
export { downloadModel, readModelFile, saveToIndexedDB, loadFromIndexedDB, deleteFromIndexedDB } from './browser';
export type { IndexedDBOptions } from './browser';
