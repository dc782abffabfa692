/** Turns a zod failure into one RuntimeError whose message names the offending field. */
import type { z } from 'zod';
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
