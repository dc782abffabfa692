/**
 * Benchmark runner: `npm run bench -- <name> [--key value ...]` compiles the package and the
 * benches (tsconfig.bench.json → dist-bench/), runs bench/<name>.bench.js there on the Node
 * that runs it, prints its table and writes bench/results/<name>.json (with the machine, the
 * Node version and the time, so results from two runs can be compared; `--tag T` writes
 * bench/results/<name>.T.json instead, for a variant run). `npm run bench:24`
 * does the same on Node 24, the reference line for the README's figures.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import path from 'node:path';
import { packagePath } from '../src/package-paths.ts';
import { MODULE_EXT } from '../src/worker-entry.ts';

export interface BenchModule {
  description: string;
  run(options: Record<string, string>): Promise<Record<string, unknown>>;
}

const here = import.meta.dirname;
const [name, ...rest] = process.argv.slice(2);
// From source (tsx) the benches are .ts; `npm run bench` runs the compiled build (.js).
const suffix = `.bench.${MODULE_EXT}`;
const available = (await readdir(here))
  .filter((f) => f.endsWith(suffix))
  .map((f) => f.slice(0, -suffix.length));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [--option value ...]`);
  process.exit(2);
}
const options: Record<string, string> = {};
for (let i = 0; i < rest.length; i += 2) options[rest[i]!.replace(/^--/, '')] = rest[i + 1] ?? 'true';

const mod = (await import(path.join(here, `${name}${suffix}`))) as BenchModule;
console.error(`bench ${name}: ${mod.description}`);
const started = new Date();
const results = await mod.run(options);
const record = {
  bench: name,
  description: mod.description,
  started_at: started.toISOString(),
  duration_s: Math.round((Date.now() - started.getTime()) / 100) / 10,
  machine: {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
  },
  node: process.version,
  options,
  reproduce: `npm run bench -- ${name}${rest.length ? ` ${rest.join(' ')}` : ''}`,
  results,
};
// Results stay in the repository's bench/results/, also when this runs from the compiled copy.
const resultsDir = packagePath('bench', 'results');
await mkdir(resultsDir, { recursive: true });
// --tag T keeps a variant's results beside the default run's: <name>.<T>.json
const tag = options.tag && /^[\w.-]+$/.test(options.tag) ? `.${options.tag}` : '';
const out = path.join(resultsDir, `${name}${tag}.json`);
await writeFile(out, `${JSON.stringify(record, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
console.error(`wrote ${path.relative(process.cwd(), out)}`);
process.exit(0);
