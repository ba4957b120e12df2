/**
 * Node modules reached only when a Node-only function runs (loadImages, loadCsv), through computed specifiers, so
 * that browser bundlers never try to resolve them (as ts/model.ts does for checkpoint files).
 */
export const nodeImport = <T>(name: string): Promise<T> => import(/* @vite-ignore */ [name].join(''));

/** node:fs, or an error telling what to use in a browser instead. */
export function nodeFs<T = typeof import('node:fs')>(where: string, instead: string): Promise<T> {
  return nodeImport<T>(['node', 'fs'].join(':')).catch(() => {
    throw new Error(`${where}: reading files needs Node (node:fs); in a browser use ${instead}`);
  });
}
