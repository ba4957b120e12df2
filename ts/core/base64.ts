/**
 * Decodes the base64 the build inlines for each wasm module (tsup.config.ts). The build marks each call pure, so a
 * bundle that never loads the core (a page that only reads IDX files or saves models, while a worker trains) drops
 * the module's bytes.
 */
export function decodeBase64(s: string): Uint8Array {
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  if (native) return native(s);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
