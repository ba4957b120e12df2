/**
 * Ready-made layer lists. `convLayers` is the keras.io convolutional VAE (examples/generative/vae.py) for images of
 * any [height, width, channels] with height and width divisible by 4: two stride-2 convolutions (32 and 64 filters,
 * 3×3), a dense layer of 16 before the latent, and the mirror image with transposed convolutions after it.
 * `padding: 'same'` pads as TensorFlow does (the keras.io example); `padding: 'pytorch'` pads 1 with output padding
 * 1, as the PyTorch port of it (`conv_vae_ref.py`) does: the same shapes, windows aligned one pixel differently.
 */
import type { LayerSpec, OutputLayerSpec } from './types';

export interface ConvLayersOptions {
  padding?: 'same' | 'pytorch';
}

export function convLayers(inputShape: readonly number[], options: ConvLayersOptions = {}): {
  inputShape: number[]; encoder: LayerSpec[]; decoder: LayerSpec[]; output: OutputLayerSpec;
} {
  const [h, w, c] = inputShape;
  if (inputShape.length !== 3 || !Number.isInteger(h) || !Number.isInteger(w) || !Number.isInteger(c) || h! % 4 !== 0 || w! % 4 !== 0 || h! < 4 || w! < 4 || c! < 1) {
    throw new TypeError(`convLayers: inputShape must be [height, width, channels] with height and width multiples of 4, got ${JSON.stringify(inputShape)}`);
  }
  const torch = options.padding === 'pytorch';
  const down = { kernelSize: 3, strides: 2, padding: torch ? 1 : 'same' } as const;
  const up = torch ? { kernelSize: 3, strides: 2, padding: 1, outputPadding: 1 } as const : { kernelSize: 3, strides: 2, padding: 'same' } as const;
  const [hq, wq] = [h! / 4, w! / 4];
  return {
    inputShape: [h!, w!, c!],
    encoder: [{ type: 'conv2d', filters: 32, ...down }, { type: 'conv2d', filters: 64, ...down }, { type: 'flatten' }, { type: 'dense', units: 16 }],
    decoder: [
      { type: 'dense', units: hq * wq * 64 }, { type: 'reshape', targetShape: [hq, wq, 64] },
      { type: 'conv2dTranspose', filters: 64, ...up }, { type: 'conv2dTranspose', filters: 32, ...up },
    ],
    output: { type: 'conv2dTranspose', kernelSize: 3, strides: 1, padding: torch ? 1 : 'same' },
  };
}
