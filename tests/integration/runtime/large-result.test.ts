/**
 * Results larger than 16 KiB of JSON are recorded in the audit trail by size and SHA-256 only
 * (the caller still receives the whole result): whether the result is one long string or an
 * object. A long string used to be recorded whole.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IDS, type TestRuntime, startTestRuntime } from '../../helpers/runtime.ts';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(() => t.cleanup());

const LIMIT = 16 * 1024;

it.each([
  ['string', (n: number) => 'x'.repeat(n)],
  ['object', (n: number) => ({ text: 'x'.repeat(n) })],
] as const)('a large %s result is recorded by size and hash; a small one as it is', async (shape, make) => {
  const session = await t.runtime.createSession({ ...IDS, skills: ['large_result'] });
  const big = await session.execute({ name: 'large_result', params: { shape, chars: 100_000 } });
  const small = await session.execute({ name: 'large_result', params: { shape, chars: 100 } });
  expect(big.result).toEqual(make(100_000));
  const [first, second] = await t.runtime.audit.query({
    session_id: session.id,
    event_types: ['action_completed'],
  });
  const json = JSON.stringify(make(100_000));
  expect(json.length).toBeGreaterThan(LIMIT);
  expect(first?.metadata).toEqual({
    result: { truncated: true, chars: json.length, sha256: createHash('sha256').update(json).digest('hex') },
  });
  expect(second?.metadata).toEqual({ result: make(100) });
  expect(small.result).toEqual(make(100));
});
