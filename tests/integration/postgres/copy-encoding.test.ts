/**
 * What goes in comes back: COPY text encoding, and the lossless escaping of what PostgreSQL
 * refuses (NUL, lone surrogates), checked with generated strings and params (fast-check)
 * against what SELECT gives back — through the store and straight from the table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../../src/audit/hash-chain.ts';
import { fromPgString, toPgString } from '../../../src/audit/stores/postgres/encode.ts';
import { PostgresCopyAuditStore } from '../../../src/audit/stores/postgres-copy.ts';
import { chainAroundFields, makeChain } from '../../helpers/audit-events.ts';
import { hostile, hostileUnit, params } from '../../helpers/hostile.ts';
import { createTestDatabase, databaseConfig, type TestDatabase } from './pg-test-db.ts';

let db: TestDatabase;
let dir: string;
let store: PostgresCopyAuditStore;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'audit-copy-enc-'));
  store = new PostgresCopyAuditStore({ database: databaseConfig(db.url), deadLetterDir: dir });
  await store.init();
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

// Characters that break COPY text, jsonb or naive escaping, mixed with any unicode.
let run = 0;

describe('COPY round trip (property-based)', () => {
  it('any message, error text, ids and params come back exactly, and the chain verifies', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostile,
        hostile,
        hostile,
        params,
        params,
        async (message, errorText, actionId, p, meta) => {
          const sessionId = `prop-${run++}`;
          const events = chainAroundFields(sessionId, {
            message,
            error_message: errorText,
            action_id: actionId,
            action_params: p,
            metadata: meta,
            mcp_server_name: message,
          });
          await store.append(events);
          const back = await store.sessionEvents(sessionId);
          expect(back).toStrictEqual(events);
          expect(verifyChain(sessionId, back).ok).toBe(true);

          // Straight from the table: text PostgreSQL can hold is stored as it is, not re-encoded.
          const [row] = await db.sql<{ message: string; escaped: boolean }>(
            'SELECT message, escaped FROM audit_events WHERE event_id = $1',
            [events[1]!.event_id],
          );
          expect(row!.message).toBe(toPgString(message));
          expect(fromPgString(row!.message)).toBe(message);
        },
      ),
      {
        numRuns: 40,
        // Found by this property: a "__proto__" key (JSON allows it) next to a NUL that needs escaping.
        examples: [['', '', '', {}, JSON.parse('{"__proto__":{},"":{"\\u0000":null}}') as Record<string, unknown>]],
      },
    );
  });

  it('the escaping alone is a bijection on any UTF-16 string', () => {
    fc.assert(
      fc.property(fc.string({ unit: hostileUnit, maxLength: 200 }), (s) => {
        const stored = toPgString(s);
        expect(stored).not.toMatch(/\u0000/);
        expect(fromPgString(stored)).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('awkward but real payloads', () => {
  it('a 4 MB param, and a NUL-laden tool output, land and read back', async () => {
    const long = 'x\t\\\n'.repeat(1024 * 1024);
    const events = makeChain('sess-long', 3, {
      start: '2025-06-15T11:00:00.000Z',
      at: (seq) => (seq === 1 ? { action_params: { stdout: long, raw: '\u0000\u0000binary\u0000' } } : {}),
    });
    await store.append(events);
    const back = await store.sessionEvents('sess-long');
    expect(back).toStrictEqual(events);
    expect(verifyChain('sess-long', back).ok).toBe(true);
  });

  it('a timestamp with microseconds keeps its exact text (and its hash)', async () => {
    const events = makeChain('sess-us', 2, {
      at: (seq) => (seq === 0 ? { timestamp: '2025-06-15T12:00:00.123456Z' } : {}),
    });
    await store.append(events);
    expect(await store.sessionEvents('sess-us')).toStrictEqual(events);
  });

  it('filters still match ids that needed escaping', async () => {
    const events = makeChain('sess-\u0000-nul', 2, { fields: { org_id: 'org\u0000x', user_id: 'u\uE000' } });
    await store.append(events);
    expect(await store.count({ org_id: 'org\u0000x', user_id: 'u\uE000', limit: 100, offset: 0 })).toBe(2);
    expect(await store.sessionEvents('sess-\u0000-nul')).toStrictEqual(events);
  });
});
