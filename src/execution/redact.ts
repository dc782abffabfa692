/**
 * Secrets in action params never reach an audit store: values under keys that look like
 * credentials are replaced before the event is built (and so before it is hashed).
 */
const SECRET_KEY = /pass(word|wd|phrase)?|secret|token|api[-_]?key|authorization|credential|private[-_]?key|cookie/i;
export const REDACTED = '[REDACTED]';
const MAX_DEPTH = 32;

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    // Copied only if something in it changes, like objects below.
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = redactSecrets(value[i], depth + 1);
      if (next !== value[i]) copy ??= value.slice();
      if (copy) copy[i] = next;
    }
    return copy ?? value;
  }
  let out: Record<string, unknown> | undefined;
  // for-in over own keys: the same keys, in the same order, as Object.entries, without an
  // array per key (this runs on every action's params and result).
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const v = (value as Record<string, unknown>)[key];
    const next = SECRET_KEY.test(key) && v !== null && v !== undefined ? REDACTED : redactSecrets(v, depth + 1);
    if (next !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      // defineProperty, not assignment: a key named "__proto__" stays a key.
      Object.defineProperty(out, key, { value: next, enumerable: true, writable: true, configurable: true });
    }
  }
  return out ?? value;
}
