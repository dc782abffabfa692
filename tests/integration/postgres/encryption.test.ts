/**
 * AUDIT_ENCRYPTION_ENABLED: action_params and metadata are stored sealed (AES-256-GCM, full
 * 16-byte tag, org and event id as associated data, key id per record). Keys rotate; anything
 * that does not authenticate fails loudly with audit_decrypt_failed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditCipher, eventAad } from '../../../src/audit/crypto.ts';
import { verifyChain } from '../../../src/audit/hash-chain.ts';
import { PostgresCopyAuditStore } from '../../../src/audit/stores/postgres-copy.ts';
import { makeChain } from '../../helpers/audit-events.ts';
import { createTestDatabase, databaseConfig, type TestDatabase } from './pg-test-db.ts';

const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `k2:${'2f'.repeat(32)}`;
const aad = eventAad('org-1', '00000000-0000-4000-8000-000000000001');

describe('AuditCipher', () => {
  const cipher = AuditCipher.fromKeyText(K1);
  const box = cipher.seal(Buffer.from('{"secret":"plans"}'), aad);

  it('opens what it sealed, naming the key', () => {
    expect(box.keyId).toBe('k1');
    expect(cipher.open('k1', box.sealed, aad).toString()).toBe('{"secret":"plans"}');
  });

  it('refuses a truncated tag (4 bytes short of 16 — Node would take a 4-byte tag unless pinned)', () => {
    for (const cut of [1, 12]) {
      expect(() => cipher.open('k1', box.sealed.subarray(0, box.sealed.length - cut), aad)).toThrow(
        expect.objectContaining({ code: 'audit_decrypt_failed' }),
      );
    }
    expect(() => cipher.open('k1', box.sealed.subarray(0, 20), aad)).toThrow(/too short/);
  });

  it('refuses the payload under another event or org (associated data swapped)', () => {
    expect(() =>
      cipher.open('k1', box.sealed, eventAad('org-2', '00000000-0000-4000-8000-000000000001')),
    ).toThrow(expect.objectContaining({ code: 'audit_decrypt_failed' }));
    expect(() =>
      cipher.open('k1', box.sealed, eventAad('org-1', '00000000-0000-4000-8000-000000000002')),
    ).toThrow(expect.objectContaining({ code: 'audit_decrypt_failed' }));
  });

  it('refuses an unknown key id and a flipped byte', () => {
    expect(() => cipher.open('k9', box.sealed, aad)).toThrow(/no key with id "k9"/);
    const flipped = Buffer.from(box.sealed);
    flipped[14]! ^= 1;
    expect(() => cipher.open('k1', flipped, aad)).toThrow(
      expect.objectContaining({ code: 'audit_decrypt_failed' }),
    );
  });

  it.each([
    ['too short', 'abc'],
    ['31 bytes', Buffer.alloc(31).toString('base64')],
    ['not base64', `${'!'.repeat(43)}=`],
    ['a repeated id', `${K1},${K1}`],
    ['a bad id', `bad id:${Buffer.alloc(32).toString('base64')}`],
  ])('rejects a key text that is %s with audit_encryption_key_invalid', (_, text) => {
    expect(() => AuditCipher.fromKeyText(text)).toThrow(
      expect.objectContaining({ code: 'audit_encryption_key_invalid' }),
    );
  });
});

describe('the database store with encryption on', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'audit-enc-'));
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });
  const open = async (encryptionKey?: string) => {
    const store = new PostgresCopyAuditStore({
      database: databaseConfig(db.url),
      deadLetterDir: dir,
      ...(encryptionKey ? { encryptionKey } : {}),
    });
    await store.init();
    return store;
  };

  it('stores no plaintext params or metadata; keys rotate and old records stay readable', async () => {
    // 1. Written under k1.
    const old = makeChain('sess-old', 3, {
      at: (s) => (s === 1 ? { action_params: { card: '4111-1111' }, metadata: { note: 'secret plan' } } : {}),
    });
    const s1 = await open(K1);
    await s1.append(old);
    await s1.close();
    const raw = await db.sql<{ action_params: unknown; metadata: unknown; key_id: string; sealed: Buffer }>(
      'SELECT action_params, metadata, key_id, sealed FROM audit_events',
    );
    for (const r of raw) {
      expect(r.action_params).toBeNull();
      expect(r.metadata).toBeNull();
      expect(r.key_id).toBe('k1');
      expect(r.sealed.toString('latin1')).not.toContain('4111');
    }

    // 2. Rotated: k2 seals new records, k1 still opens the old ones.
    const fresh = makeChain('sess-new', 3);
    const s2 = await open(`${K2},${K1}`);
    await s2.append(fresh);
    expect(await s2.sessionEvents('sess-old')).toStrictEqual(old);
    expect(verifyChain('sess-new', await s2.sessionEvents('sess-new')).ok).toBe(true);
    expect(
      (
        await db.sql<{ key_id: string }>(
          `SELECT DISTINCT key_id FROM audit_events WHERE session_id = 'sess-new'`,
        )
      )[0]!.key_id,
    ).toBe('k2');
    await s2.close();

    // 3. Without k1 (or with no key at all), reading the old records fails loudly.
    const s3 = await open(K2);
    await expect(s3.sessionEvents('sess-old')).rejects.toMatchObject({ code: 'audit_decrypt_failed' });
    await s3.close();
    const s4 = await open();
    await expect(s4.sessionEvents('sess-old')).rejects.toMatchObject({ code: 'audit_decrypt_failed' });
    await s4.close();
  });

  it('a sealed payload moved onto another event fails to open', async () => {
    const s = await open(K1);
    const [a, b] = makeChain('sess-swap', 2);
    await s.append([a!, b!]);
    await db.sql(
      `UPDATE audit_events SET sealed = (SELECT sealed FROM audit_events WHERE event_id = $1) WHERE event_id = $2`,
      [a!.event_id, b!.event_id],
    );
    await expect(s.sessionEvents('sess-swap')).rejects.toMatchObject({ code: 'audit_decrypt_failed' });
    await s.close();
  });
});
