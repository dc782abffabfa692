/**
 * The policy directory (POLICY_DIR) as text: every `*.cedar` file, in name order, and the
 * optional `schema.cedarschema`. Read on the main thread (at start, on SIGHUP, by the CLI) and
 * sent as it is to every session worker, which compiles it once (cedar-policies.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

const PolicyFileSchema = z.object({
  /** the file's name inside the directory (error messages name it) */
  name: z.string(),
  text: z.string(),
});
export type PolicyFile = z.infer<typeof PolicyFileSchema>;

export const PolicySourceSchema = z.object({
  dir: z.string(),
  files: z.array(PolicyFileSchema),
  schema: PolicyFileSchema.optional(),
});
export type PolicySource = z.infer<typeof PolicySourceSchema>;

export const SCHEMA_FILE = 'schema.cedarschema';
/** A policy directory larger than this is refused rather than shipped to every worker. */
const MAX_SOURCE_BYTES = 8 * 1024 * 1024;

export class PolicyError extends Error {
  override name = 'PolicyError';
}

export async function readPolicyDir(dir: string): Promise<PolicySource> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw new PolicyError(`POLICY_DIR ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const files: PolicyFile[] = [];
  let schema: PolicyFile | undefined;
  let bytes = 0;
  for (const name of names) {
    if (!name.endsWith('.cedar') && name !== SCHEMA_FILE) continue;
    const text = await readFile(path.join(dir, name), 'utf8');
    bytes += Buffer.byteLength(text);
    if (bytes > MAX_SOURCE_BYTES)
      throw new PolicyError(`POLICY_DIR ${dir}: more than ${MAX_SOURCE_BYTES} bytes of policies`);
    if (name === SCHEMA_FILE) schema = { name, text };
    else files.push({ name, text });
  }
  if (files.length === 0)
    throw new PolicyError(`POLICY_DIR ${dir}: no *.cedar files (an empty set would deny every action)`);
  return { dir, files, ...(schema ? { schema } : {}) };
}

/** "file:line:column" of a byte offset in a file's text (Cedar reports offsets). */
export function locate(file: PolicyFile, offset: number): string {
  const before = Buffer.from(file.text).subarray(0, offset).toString('utf8');
  const lines = before.split('\n');
  return `${file.name}:${lines.length}:${lines[lines.length - 1]!.length + 1}`;
}
