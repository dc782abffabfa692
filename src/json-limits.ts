/**
 * Bounds on the shape of JSON that enters the runtime (a request body, a session request, an
 * action's params): nesting depth, string length, array length, keys per object and values in
 * all. Deep data used to reach msgpack's recursive packer on the main thread and kill the process
 * with a stack overflow (issue 15): every door checks its input here first, so a bad body is a
 * 400 naming the limit, never a crash.
 *
 * The walk is iterative (an explicit stack), so checking cannot overflow either, and it stops at
 * the first problem: hostile input costs at most `max_nodes` steps.
 */
import { z } from 'zod';
import { RuntimeError } from './errors.ts';

export const JsonLimitsSchema = z.object({
  /** objects and arrays nested inside each other */
  json_max_depth: z.number().int().min(1).max(1000).default(64),
  /** UTF-16 units in one string, keys included */
  json_max_string_chars: z
    .number()
    .int()
    .min(1)
    .default(8 * 1024 * 1024),
  json_max_array_items: z.number().int().min(1).default(10_000),
  json_max_object_keys: z.number().int().min(1).default(1_000),
  /** values (objects, arrays, scalars) in one document */
  json_max_nodes: z.number().int().min(1).default(100_000),
});
export type JsonLimits = z.infer<typeof JsonLimitsSchema>;

export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = Object.freeze(JsonLimitsSchema.parse({}));

/** The first way `value` breaks `limits`, as a sentence naming the limit; undefined when it fits. */
export function jsonShapeProblem(
  value: unknown,
  limits: Readonly<JsonLimits> = DEFAULT_JSON_LIMITS,
): string | undefined {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  let nodes = 0;
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop()!;
    nodes += 1;
    if (nodes > limits.json_max_nodes) return `more than ${limits.json_max_nodes} values in all`;
    if (typeof current === 'string') {
      if (current.length > limits.json_max_string_chars) {
        return `a string longer than ${limits.json_max_string_chars} characters`;
      }
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limits.json_max_depth) return `nested deeper than ${limits.json_max_depth} levels`;
    if (Array.isArray(current)) {
      if (current.length > limits.json_max_array_items) {
        return `an array longer than ${limits.json_max_array_items} items`;
      }
      for (const item of current) {
        values.push(item);
        depths.push(depth + 1);
      }
      continue;
    }
    let keys = 0;
    for (const key in current) {
      if (!Object.hasOwn(current, key)) continue;
      keys += 1;
      if (keys > limits.json_max_object_keys)
        return `an object with more than ${limits.json_max_object_keys} keys`;
      if (key.length > limits.json_max_string_chars) {
        return `a key longer than ${limits.json_max_string_chars} characters`;
      }
      values.push((current as Record<string, unknown>)[key]);
      depths.push(depth + 1);
    }
  }
  return undefined;
}

/** Throws invalid_request ("invalid <what>: nested deeper than 64 levels") when `value` breaks `limits`. */
export function assertJsonShape(value: unknown, limits: Readonly<JsonLimits>, what: string): void {
  const problem = jsonShapeProblem(value, limits);
  if (problem !== undefined) throw new RuntimeError('invalid_request', `invalid ${what}: ${problem}`);
}
