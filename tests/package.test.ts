// The package as npm publishes it (`npm pack`, unpacked into a fresh project): its files and licence, its types
// in strict TypeScript projects for Node only, the DOM only, and both (ESM and CommonJS consumers), and that it
// imports and trains from ESM and CommonJS without any of the repository's devDependencies.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { installPacked, ROOT } from './helpers';

let dir: string;
let files: string[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vae-packed-'));
  files = installPacked(dir);
}, 60_000);

describe('the npm tarball', () => {
  it('holds the built package, README and the MIT LICENSE, and nothing from the repository besides', () => {
    expect(files.sort()).toEqual(['LICENSE', 'README.md', 'dist/cli.js', 'dist/index.cjs', 'dist/index.d.cts', 'dist/index.d.ts', 'dist/index.js', 'package.json']);
    const license = readFileSync(join(dir, 'node_modules/vae-wasm/LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} the vae-wasm authors\n/);
    expect(license).toContain('Permission is hereby granted, free of charge, to any person obtaining a copy');
    expect(JSON.parse(readFileSync(join(dir, 'node_modules/vae-wasm/package.json'), 'utf8')).license).toBe('MIT');
  });

  it('imports and trains from ESM and from CommonJS with no other package installed', () => {
    const program = (load: string) => `${load}
      (async () => {
        const vae = await VAE.create({ inputDim: 4, latentDim: 2, encoder: [3], seed: 1 });
        const [log] = await vae.fit([[0, 1, 0, 1], [1, 0, 1, 0]], { epochs: 1 });
        console.log(JSON.stringify({ threads: vae.threads, loss: log.loss }));
        vae.dispose();
      })();`;
    for (const [kind, args] of [['esm', ['--input-type=module', '-e', program("import { VAE } from 'vae-wasm';")]],
      ['cjs', ['--input-type=commonjs', '-e', program("const { VAE } = require('vae-wasm');")]]] as const) {
      const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
      expect(r.status, `${kind}: ${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout.trim());
      expect(Number.isFinite(out.loss) && out.loss > 0, kind).toBe(true);
    }
  });
});

describe('its types in strict TypeScript projects', () => {
  // Uses of the public types: data in every accepted form, bytes as ArrayBuffer, a compiled module for init,
  // Symbol.dispose, results' field names.
  const body = `
    const vae = await VAE.create({ inputDim: 4, latentDim: 2, likelihood: 'gaussian', seed: 1 });
    const idx: IdxArray = loadIdx(new ArrayBuffer(0));
    const forms: DataInput[] = [new Float32Array(4), new Uint8Array(4), new Uint8ClampedArray(4), [0, 1, 2, 3],
      [[0, 1, 2, 3]], idxImages(idx), idx, { data: new Float64Array(4), shape: [1, 2, 2] }];
    for (const x of forms) await vae.fit(x, { epochs: 1, signal: new AbortController().signal });
    const { mean, logVar } = vae.encode(forms[0]!);
    const r: LogLikelihoodResult = vae.logLikelihood(mean.length + logVar.length > 0 ? forms[0]! : [], { samples: 5 });
    const total: number = r.logLikelihood + r.elbo + r.gap + r.perRow.logLikelihood[0]!;
    const again = await VAE.load(vae.save().buffer);
    const source: WasmSource = new Uint8Array(8);
    await init({ wasm: source });
    const ae = await Autoencoder.create({ inputDim: 4, latentDim: 2 });
    ae.encode([[0, 0, 0, 0]]);
    ae[Symbol.dispose]();
    again.dispose();
    const set: ImageSet = fromImageData({ width: 1, height: 1, data: new Uint8ClampedArray(4) }, { channels: 1, size: [2, 2], background: [0, 0, 0] });
    const files: ImageSet = await loadImages(['a.png'], { channels: 3 });
    const table: ParsedTable = parseCsv('a,b\\n1,2\\n', { columns: { a: 'categorical' }, dropMissing: true });
    const schema: TableSchema = JSON.parse(JSON.stringify(table.schema)) as TableSchema;
    const decoded = decodeRows(schema, table.data).rows[0]!['a'];
    const npy: NpyArray = loadNpy(new ArrayBuffer(0));
    await vae.fit(set);
    await vae.fit(table);
    await vae.fit(npy);
    void [files, decoded, (await loadCsv('t.csv', { schema })).rows, await fromFiles([new Blob([])])];
    return total;`;
  const imports = "import { Autoencoder, VAE, decodeRows, fromCanvas, fromFiles, fromImageBitmap, fromImageData, idxImages, init, loadCsv, loadIdx, loadImages, loadNpy, parseCsv, " +
    "type DataInput, type IdxArray, type ImageSet, type LogLikelihoodResult, type NpyArray, type ParsedTable, type TableSchema, type WasmSource } from 'vae-wasm';";
  // With the DOM library: the browser objects the image helpers take (structural types in the .d.ts).
  const domBody = `
    const canvas = document.createElement('canvas');
    const input = document.querySelector('input')!;
    const sets = [fromCanvas([canvas, new OffscreenCanvas(1, 1)]), fromImageBitmap(await createImageBitmap(canvas)),
      await fromFiles(input.files!), fromImageData(canvas.getContext('2d')!.getImageData(0, 0, 1, 1))];
    void sets;`;
  const setups: Record<string, { lib: string[]; types: string[] }> = {
    'Node only (lib es2022, @types/node)': { lib: ['es2022'], types: ['node'] },
    'DOM only (lib es2022 + dom, no @types/node)': { lib: ['es2022', 'dom'], types: [] },
    'Node and DOM': { lib: ['es2022', 'dom'], types: ['node'] },
    'esnext (its own Symbol.dispose) and DOM': { lib: ['esnext', 'dom'], types: [] },
  };
  for (const [name, { lib, types }] of Object.entries(setups)) {
    it(`${name}: ESM and CommonJS consumers check with skipLibCheck off`, () => {
      const project = mkdtempSync(join(dir, 'types-'));
      const all = (lib.includes('dom') ? domBody : '') + body;
      writeFileSync(join(project, 'esm.mts'), `${imports}\nexport async function run(): Promise<number> {${all}\n}\n`);
      writeFileSync(join(project, 'cjs.cts'), `${imports}\nexport async function run(): Promise<number> {${all}\n}\n`);
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          strict: true, noEmit: true, skipLibCheck: false, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext',
          lib, types, typeRoots: [join(ROOT, 'node_modules/@types')], noUncheckedIndexedAccess: true,
        },
        files: ['esm.mts', 'cjs.cts'],
      }));
      const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: dir, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    }, 60_000);
  }
});
