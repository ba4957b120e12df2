/** Command-line options of the experiments (`npm run experiment:x -- --epochs 5`), for quick looks. */

/** The value after `name` on the command line, if `name` is given. */
export function stringOption(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** A whole-number option; the page states what was used. */
export function numberOption(name: string, fallback: number): number {
  const given = stringOption(name);
  if (given === undefined) return fallback;
  const v = Number(given);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} wants a whole number, got ${given}`);
  return v;
}
