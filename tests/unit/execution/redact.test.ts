/**
 * Secrets in params and results never reach the audit trail: values under credential-like keys
 * are replaced at any depth, the caller's objects are left as they were, and objects with
 * nothing to hide come back as they are (no copy).
 */
import { describe, expect, it } from 'vitest';
import { REDACTED, redactSecrets } from '../../../src/execution/redact.ts';

describe('redactSecrets', () => {
  it('replaces values under credential-like keys at any depth, in objects and arrays', () => {
    const params = {
      url: 'https://example.test',
      password: 'hunter2',
      headers: { Authorization: 'Bearer abc', Accept: 'json' },
      accounts: [{ name: 'a', api_key: 'k1' }, { name: 'b' }],
      nested: { deeper: { client_secret: 's', ok: 1 } },
    };
    expect(redactSecrets(params)).toEqual({
      url: 'https://example.test',
      password: REDACTED,
      headers: { Authorization: REDACTED, Accept: 'json' },
      accounts: [{ name: 'a', api_key: REDACTED }, { name: 'b' }],
      nested: { deeper: { client_secret: REDACTED, ok: 1 } },
    });
    // The caller's object is untouched.
    expect(params.password).toBe('hunter2');
    expect(params.headers.Authorization).toBe('Bearer abc');
  });

  it('returns objects with nothing to hide as they are, and keeps null or missing secrets as they are', () => {
    const clean = { message: 'hi', list: [1, 2], inner: { a: 'b' } };
    expect(redactSecrets(clean)).toBe(clean);
    expect(redactSecrets({ token: null, secret: undefined })).toEqual({ token: null, secret: undefined });
    expect(redactSecrets('password')).toBe('password');
  });

  it('keeps a "__proto__" key a key, and looks only at own keys', () => {
    const parsed = JSON.parse('{"__proto__": {"token": "t"}, "a": 1}') as Record<string, unknown>;
    const out = redactSecrets(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"token":"[REDACTED]"},"a":1}');
    const inherited = Object.create({ password: 'from the prototype' }) as Record<string, unknown>;
    inherited.note = 'own';
    expect(redactSecrets(inherited)).toBe(inherited);
  });
});
