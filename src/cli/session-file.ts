/** Reads a session file (YAML or JSON) holding the same body as POST /v1/sessions. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { type SessionRequest, SessionRequestSchema } from '../contracts.ts';
import { parseOrThrow } from '../validation.ts';
import { UsageError } from './command.ts';

export async function readSessionFile(file: string): Promise<SessionRequest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let body: unknown;
  try {
    body = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new UsageError(`${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new UsageError(`${file}: expected a mapping with org_id, user_id, agent_id, planner, ...`);
  }
  try {
    return parseOrThrow(SessionRequestSchema, body, 'invalid_request', 'session file') as SessionRequest;
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message.replace(/^invalid session file: /, '')}`);
  }
}
