#!/usr/bin/env node
// Compiles the package to dist/ (JavaScript, declarations, source maps with their sources).
// `npm run build`, and `prepare` (so `npm pack`, `npm ci` and a git install build it too).
//
// tsc rewrites `./x.ts` imports to `./x.js` in the JavaScript it emits, but keeps them as
// written in declaration files; a consumer's TypeScript without allowImportingTsExtensions
// refuses those, so the relative specifiers in dist/**/*.d.ts are rewritten here as well.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (built.status !== 0) process.exit(built.status ?? 1);

// from './a.ts' · import('./a.ts') · export … from '../b.ts'
const RELATIVE_TS = /(from\s+|import\()(['"])(\.{1,2}\/[^'"]+?)\.ts\2/g;
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const file = path.join(entry.parentPath, entry.name);
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(RELATIVE_TS, '$1$2$3.js$2');
  if (rewritten !== text) writeFileSync(file, rewritten);
}

// The console's page, script and styles are served as they are (src/api/http/console.ts).
cpSync(path.join(root, 'src', 'api', 'console'), path.join(dist, 'src', 'api', 'console'), { recursive: true });
