/**
 * Skills are local modules in the skills directory, one file each (.js, .mjs, or .ts when
 * running from source), whose default export is
 *   { name, description, version, parameters (JSON Schema), execute(params, ctx) }.
 * Each worker thread loads the directory once, on first use.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { RuntimeError } from '../../errors.ts';

export const SkillSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a name of 1-64 letters, digits, _ or -'),
  description: z.string().default(''),
  version: z.string().min(1).default('0.0.0'),
  parameters: z.record(z.string(), z.unknown()).default({ type: 'object' }),
  execute: z.custom<(params: Record<string, unknown>, ctx: SkillContext) => unknown>((v) => typeof v === 'function', {
    message: 'execute must be a function',
  }),
});
export type Skill = z.infer<typeof SkillSchema> & { file: string };

export interface SkillContext {
  signal: AbortSignal;
  session_id: string;
  org_id: string;
  sandboxDir: string;
}

const SKILL_FILE = /\.(m?js|ts)$/;
const loaded = new Map<string, Promise<ReadonlyMap<string, Skill>>>();

/** Loads (once per thread) every skill in `dir`. A malformed skill stops the load with its file named. */
export function loadSkills(dir: string | undefined): Promise<ReadonlyMap<string, Skill>> {
  if (!dir) return Promise.resolve(new Map());
  const absolute = path.resolve(dir);
  let pending = loaded.get(absolute);
  if (!pending) {
    pending = readSkillDir(absolute);
    loaded.set(absolute, pending);
    pending.catch(() => loaded.delete(absolute));
  }
  return pending;
}

async function readSkillDir(dir: string): Promise<ReadonlyMap<string, Skill>> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => SKILL_FILE.test(f) && !f.endsWith('.d.ts')).sort();
  } catch (err) {
    throw new RuntimeError('invalid_context', `skills directory ${dir} cannot be read: ${(err as Error).message}`);
  }
  const skills = new Map<string, Skill>();
  for (const file of files) {
    const full = path.join(dir, file);
    const mod = (await import(pathToFileURL(full).href)) as { default?: unknown };
    const parsed = SkillSchema.safeParse(mod.default);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new RuntimeError('invalid_context', `skill ${file}: ${issue.path.join('.') || 'default export'} ${issue.message}`);
    }
    if (skills.has(parsed.data.name)) {
      throw new RuntimeError('invalid_context', `skill ${file}: the name ${parsed.data.name} is already taken`);
    }
    skills.set(parsed.data.name, { ...parsed.data, file });
  }
  return skills;
}
