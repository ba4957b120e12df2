/** Writing the CLI's output files. */
import { renameSync, writeFileSync } from 'node:fs';

/** Writes a file atomically: a temporary file in the same folder, then a rename. */
export function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
