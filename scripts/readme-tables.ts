/**
 * Writes the configuration and error-code tables of README.md from config/schema.ts and
 * src/errors.ts: `node --import tsx scripts/readme-tables.ts`. tests/unit/readme.test.ts
 * fails when the README's tables differ from what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigSchema, ENV_KEYS } from '../config/schema.ts';
import { ERROR_CATALOGUE } from '../src/errors.ts';

export const README = path.resolve(import.meta.dirname, '../README.md');

function leaves(tree: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
  return Object.entries(tree).flatMap(([k, v]) =>
    v && typeof v === 'object' && !Array.isArray(v) && !k.endsWith('tokens')
      ? leaves(v as Record<string, unknown>, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v] as [string, unknown]],
  );
}

export function configTable(): string {
  const defaults = ConfigSchema.parse({});
  const envByKey = new Map(Object.entries(ENV_KEYS).map(([env, { key }]) => [key, env]));
  const keys = leaves(defaults as unknown as Record<string, unknown>).map(([k]) => k);
  for (const key of envByKey.keys()) if (!keys.includes(key)) keys.push(key); // optional keys without a default
  const rows = keys.map((key) => {
    const value = key.split('.').reduce<unknown>((n, p) => (n as Record<string, unknown> | undefined)?.[p], defaults);
    const shown = value === undefined ? '—' : `\`${JSON.stringify(value)}\``;
    return `| \`${key}\` | ${envByKey.has(key) ? `\`${envByKey.get(key)}\`` : '—'} | ${shown} |`;
  });
  return ['| key (YAML) | environment variable | default |', '| --- | --- | --- |', ...rows].join('\n');
}

export function errorTable(): string {
  const rows = Object.entries(ERROR_CATALOGUE).map(([code, { status, message }]) => `| \`${code}\` | ${status} | ${message} |`);
  return ['| code | HTTP status | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function withTables(readme: string): string {
  return replaceBetween(replaceBetween(readme, 'config-table', configTable()), 'error-table', errorTable());
}

function replaceBetween(text: string, marker: string, body: string): string {
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md has no ${start} … ${end} section`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  writeFileSync(README, withTables(readFileSync(README, 'utf8')));
  console.log('README.md tables written');
}
