/**
 * Where a thread starts. From source (.ts, via tsx) workers need the tsx loader in their
 * execArgv; from a build (dist/, .js) they do not.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** The extension of this build's modules: `ts` from source, `js` compiled (bench fixtures use it). */
export const MODULE_EXT = FROM_SOURCE ? 'ts' : 'js';

export function workerEntry(name: 'session' | 'audit'): { filename: string; execArgv: string[] } {
  return {
    filename: fileURLToPath(new URL(`../workers/${name}.worker.${MODULE_EXT}`, import.meta.url)),
    execArgv: FROM_SOURCE ? ['--import', 'tsx'] : [],
  };
}

/**
 * Source for `new Worker(source, { eval: true })` that imports an entry module. A plain Worker
 * imports its entry before `--import tsx` has registered its hooks (piscina escapes this by
 * importing later), so from source the stub registers tsx itself first.
 */
export function workerBootstrap(filename: string): string {
  const entry = JSON.stringify(pathToFileURL(filename).href);
  if (!FROM_SOURCE) return `import(${entry});`;
  // tsx's ESM API file, found through its package.json (its "require" build cannot register ESM hooks).
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = JSON.stringify(pathToFileURL(path.join(tsxDir, 'dist/esm/api/index.mjs')).href);
  return `import(${tsxApi}).then((tsx) => { tsx.register(); return import(${entry}); });`;
}
