/** Reading models written by `save()`: a safetensors file whose metadata names our format, kind and config. */
import { toBytes } from './data';
import { decodeSafetensors } from './safetensors';
import { checksum, FORMAT, FORMAT_VERSION, OPTIMIZER_TENSOR, type BaseModel } from './model';
import type { BytesInput, NamedTensor } from './types';

export async function loadModel(
  where: string, input: BytesInput, kind: 'vae' | 'autoencoder', create: (config: unknown) => Promise<BaseModel>,
): Promise<BaseModel> {
  const bytes = toBytes(where, 'bytes', input, 'the output of save()');
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  const meta = file.metadata;
  if (meta.format !== FORMAT) {
    throw new Error(`${where}: not a vae-wasm model (metadata format is ${JSON.stringify(meta.format)}, expected ${JSON.stringify(FORMAT)})`);
  }
  if (meta.version !== FORMAT_VERSION) {
    throw new Error(`${where}: unsupported format version ${JSON.stringify(meta.version)}; this library reads version ${FORMAT_VERSION}`);
  }
  if (meta.kind !== kind) {
    throw new Error(`${where}: the file holds a ${JSON.stringify(meta.kind)} model; load it with ${meta.kind === 'vae' ? 'VAE' : 'Autoencoder'}.load`);
  }
  if (meta.checksum === undefined) throw new Error(`${where}: the metadata has no checksum; the file is damaged or was not written by save()`);
  if (checksum(file.tensors, meta) !== meta.checksum) {
    throw new Error(`${where}: checksum mismatch: the file is corrupted (metadata says ${meta.checksum}, contents give ${checksum(file.tensors, meta)})`);
  }
  let config: unknown;
  try {
    config = JSON.parse(meta.config ?? '');
  } catch {
    throw new Error(`${where}: the metadata's config is not valid JSON`);
  }
  const model = await create(config);
  try {
    const weights: Record<string, NamedTensor> = {};
    for (const [name, t] of Object.entries(file.tensors)) if (name !== OPTIMIZER_TENSOR) weights[name] = { shape: t.shape, data: t.data };
    model.setWeights(weights);
    if (meta.training !== undefined) {
      let training: unknown;
      try {
        training = JSON.parse(meta.training);
      } catch {
        throw new Error('the training state in the metadata is not valid JSON');
      }
      model.restoreTraining(where, training, file.tensors[OPTIMIZER_TENSOR]?.data);
    }
  } catch (e) {
    model.dispose();
    throw new Error(`${where}: the tensors do not match the config: ${(e as Error).message}`);
  }
  return model;
}
