/**
 * Loads the configuration once at start-up and freezes it:
 *   built-in defaults < config/<ENVIRONMENT>.yaml < the file named by ENV_FILE < process.env
 * A bad value throws ConfigError whose message is one line naming the key, the value and
 * what was expected. Nothing reads process.env after this.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { packagePath } from '../src/package-paths.ts';
import { type Config, type ConfigInput, ConfigSchema, ENV_KEYS } from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** the environment to read; defaults to process.env */
  env?: Record<string, string | undefined>;
  /** folder holding <ENVIRONMENT>.yaml; defaults to the package's config/ */
  configDir?: string;
  /** values that win over everything (used by the library API and tests) */
  overrides?: ConfigInput;
}

// The packaged defaults: the package's config/ folder (also from dist/config/load.js).
const DEFAULT_CONFIG_DIR = packagePath('config');

type Source = { label: (key: string) => string };
type Tree = Record<string, unknown>;

export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  let env: Record<string, string | undefined> = { ...(options.env ?? process.env) };
  // Where each key's value came from, so an error can name the variable the operator set.
  const origin = new Map<string, Source>();

  if (env.ENV_FILE) {
    const envFile = env.ENV_FILE;
    let text: string;
    try {
      text = readFileSync(envFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`ENV_FILE=${JSON.stringify(envFile)}: cannot read it (${(err as Error).message})`);
    }
    // The real environment wins over the file.
    env = { ...parseEnv(text), ...env };
  }

  const environment = env.ENVIRONMENT ?? options.overrides?.environment ?? 'development';
  const configDir = options.configDir ?? DEFAULT_CONFIG_DIR;
  const yamlPath = path.join(configDir, `${environment}.yaml`);
  let tree: Tree = {};
  if (existsSync(yamlPath)) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(yamlPath, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${yamlPath}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ConfigError(`${yamlPath}: expected a mapping of config sections at the top level`);
      }
      tree = parsed as Tree;
      resolveShippedSkillsDir(tree, configDir);
      for (const key of leafKeys(tree)) origin.set(key, { label: (k) => `${k} in ${yamlPath}` });
    }
  }

  for (const [name, { key, kind }] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(tree, key, readEnvValue(name, key, raw, kind));
    origin.set(key, { label: (k) => `${name} (${k})` });
  }
  if (options.overrides) {
    mergeInto(tree, options.overrides as Tree);
    for (const key of leafKeys(options.overrides as Tree)) origin.set(key, { label: (k) => k });
  }

  readListFile(tree, origin, 'mcp', 'servers', 'MCP servers');
  readListFile(tree, origin, undefined, 'webhooks', 'webhooks');
  readListFile(tree, origin, undefined, 'agents', 'agent profiles');

  const result = ConfigSchema.safeParse(tree);
  if (!result.success) throw new ConfigError(describeIssue(result.error.issues[0]!, tree, origin));
  return deepFreeze(result.data);
}

/**
 * Skills are code that ships beside the YAML (the packaged development config names the
 * package's examples/skills), so a relative `runtime.skills_dir` in a YAML file resolves from
 * the folder that holds its config/ folder: the package once installed, the repository in the
 * dev loop. Data paths (log_dir, sandbox_dir) stay relative to the working directory, and a
 * SKILLS_DIR from the environment resolves from the working directory as any path there does.
 */
function resolveShippedSkillsDir(tree: Tree, configDir: string): void {
  const runtime = tree['runtime'];
  if (typeof runtime !== 'object' || runtime === null) return;
  const section = runtime as Tree;
  const dir = section['skills_dir'];
  if (typeof dir === 'string' && dir !== '' && !path.isAbsolute(dir)) {
    section['skills_dir'] = path.resolve(configDir, '..', dir);
  }
}

/**
 * A list in a file of its own, YAML or JSON, holding the same list as its YAML key, which it
 * replaces: MCP_SERVERS_FILE (mcp.servers_file → mcp.servers), WEBHOOKS_FILE (webhooks_file → webhooks).
 */
function readListFile(tree: Tree, origin: Map<string, Source>, sectionName: string | undefined, key: string, what: string): void {
  let section: Tree = tree;
  if (sectionName !== undefined) {
    const found = tree[sectionName];
    if (typeof found !== 'object' || found === null) return;
    section = found as Tree;
  }
  const prefix = sectionName === undefined ? '' : `${sectionName}.`;
  const fileKey = `${prefix}${key}_file`;
  const file = section[`${key}_file`];
  if (typeof file !== 'string' || file === '') return;
  const named = origin.get(fileKey)?.label(fileKey) ?? fileKey;
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${named} = ${JSON.stringify(file)}: cannot read it as YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (!Array.isArray(parsed)) {
    throw new ConfigError(`${named} = ${JSON.stringify(file)}: expected a list of ${what}`);
  }
  section[key] = parsed;
  origin.set(`${prefix}${key}`, { label: (k) => `${k} in ${file}` });
}

function readEnvValue(name: string, key: string, raw: string, kind: string): unknown {
  const fail = (expected: string): never => {
    throw new ConfigError(`${name} (${key}) = ${JSON.stringify(raw)}: expected ${expected}`);
  };
  switch (kind) {
    case 'int':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw) : fail('an integer');
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : fail('a number');
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return fail('true or false');
    }
    case 'bytes':
      return parseBytes(raw) ?? fail('a size in bytes such as 104857600, 100MB or 512KB');
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'tokens':
      // The bad pair is not echoed: without its '=' it may be nothing but a secret token.
      return parseTokenPairs(raw, (_pair, n) =>
        fail(`comma-separated token=org_id pairs (pair ${n} has no '=' or nothing after it)`),
      );
    default:
      return raw;
  }
}

/**
 * Parses `token=grant` pairs separated by commas or newlines (a grant is `org_id` or
 * `org_id:name:role+role`, read by src/api/http/auth.ts). `onBad` gets the pair and its number.
 */
export function parseTokenPairs(text: string, onBad: (pair: string, n: number) => never): Record<string, string> {
  const tokens: Record<string, string> = {};
  let n = 0;
  for (const pair of text.split(/[,\n]/)) {
    const trimmed = pair.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    n++;
    const eq = trimmed.indexOf('=');
    if (eq <= 0 || eq === trimmed.length - 1) onBad(trimmed, n);
    tokens[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  }
  return tokens;
}

export function parseBytes(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(raw);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('g') ? 1024 ** 3 : 1;
  const bytes = Math.round(Number(m[1]) * factor);
  return bytes > 0 ? bytes : undefined;
}

function describeIssue(issue: z.core.$ZodIssue, tree: Tree, origin: Map<string, Source>): string {
  const key = issue.path.join('.');
  const value = getPath(tree, key);
  const where = originOf(origin, key)?.label(key) ?? key;
  const shown = value === undefined ? 'missing' : JSON.stringify(value);
  let expected = issue.message;
  if (issue.code === 'invalid_value') expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  else if (issue.code === 'unrecognized_keys') return `${where}: unknown key(s) ${issue.keys.join(', ')}`;
  return `${where} = ${shown}: ${expected.replace(/^Invalid input: /, '')}`;
}

/** Where a key's value came from: the key's own origin, else the nearest parent's (a list item). */
function originOf(origin: Map<string, Source>, key: string): Source | undefined {
  for (let k = key; ; k = k.slice(0, k.lastIndexOf('.'))) {
    const found = origin.get(k);
    if (found || !k.includes('.')) return found;
  }
}

function leafKeys(tree: Tree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    v && typeof v === 'object' && !Array.isArray(v) ? leafKeys(v as Tree, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

function getPath(tree: Tree, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Tree | undefined)?.[part], tree);
}

function setPath(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!node[part] || typeof node[part] !== 'object') node[part] = {};
    node = node[part] as Tree;
  }
  node[parts.at(-1)!] = value;
}

function mergeInto(target: Tree, source: Tree): void {
  for (const [k, v] of Object.entries(source)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && target[k] && typeof target[k] === 'object') {
      mergeInto(target[k] as Tree, v as Tree);
    } else {
      target[k] = v;
    }
  }
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
