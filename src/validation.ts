/** Turns a zod failure into one RuntimeError whose message names the offending field. */
import type { z } from 'zod';
import { ActionSchema, MAX_ID_CHARS } from './contracts.ts';
import { type ErrorCode, RuntimeError } from './errors.ts';

export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: ErrorCode = 'invalid_request',
  what = 'request',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map(describeIssue);
  throw new RuntimeError(code, `invalid ${what}: ${issues.join('; ')}`, { issues: result.error.issues.slice(0, 10) });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
  if (issue.code === 'unrecognized_keys') {
    return `${field === '(body)' ? '' : `${field}: `}unknown field(s) ${issue.keys.join(', ')}`;
  }
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    return `${field}: ${issue.message}`;
  }
  return `${field}: ${issue.message}`;
}

type ParsedAction = z.infer<typeof ActionSchema>;

/**
 * ActionSchema's parse, with a fast path for the usual action — a plain object of `name`,
 * optional `id` and plain-object `params` — that builds exactly what the schema would (the
 * params copied shallowly). Anything else goes through the schema, so every refusal and its
 * message are the schema's own. A schema parse costs more than the rest of an action's way
 * from the caller to its worker; tests/unit/validation/parse-action.test.ts holds the two equal.
 */
export function parseAction(value: unknown, what: string): ParsedAction {
  return fastAction(value) ?? parseOrThrow(ActionSchema, value, 'invalid_request', what);
}

function fastAction(value: unknown): ParsedAction | undefined {
  if (!isPlain(value)) return undefined;
  const a = value as Record<string, unknown>;
  for (const key in a) {
    if (key !== 'name' && key !== 'id' && key !== 'params') return undefined;
  }
  const { id, name, params } = a;
  if (!isIdText(name) || (id !== undefined && !isIdText(id)) || ('id' in a && id === undefined)) return undefined;
  if (params === undefined) return id === undefined ? { name, params: {} } : { id, name, params: {} };
  // The schema skips a "__proto__" key and refuses symbol keys: leave both to it.
  if (!isPlain(params) || Object.hasOwn(params, '__proto__') || Object.getOwnPropertySymbols(params).length > 0) {
    return undefined;
  }
  const copy = Object.assign({}, params) as Record<string, unknown>;
  return id === undefined ? { name, params: copy } : { id, name, params: copy };
}

function isPlain(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The schema's `id` and `name`: well-formed Unicode of 1 to MAX_ID_CHARS UTF-16 units. */
function isIdText(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID_CHARS && value.isWellFormed();
}
