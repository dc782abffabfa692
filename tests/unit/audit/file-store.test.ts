import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { verifyChain } from '../../../src/audit/hash-chain.ts';
import { FileAuditStore } from '../../../src/audit/stores/file.ts';
import { makeChain, q } from '../../helpers/audit-events.ts';

const BIG = 100 * 1024 * 1024;

let dir: string;
const opened: FileAuditStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-file-unit-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openStore(options: { maxFileSize?: number; maxFiles?: number; at?: string } = {}) {
  const store = new FileAuditStore({
    dir: options.at ?? dir,
    maxFileSize: options.maxFileSize ?? BIG,
    maxFiles: options.maxFiles ?? 10,
  });
  opened.push(store);
  await store.init();
  return store;
}

async function auditFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('audit')).sort();
}

async function fileLines(name: string): Promise<string[]> {
  const text = await readFile(join(dir, name), 'utf8');
  return text.split('\n').filter((l) => l.length > 0);
}

function lineOf(event: AuditEvent): string {
  return `${JSON.stringify(event)}\n`;
}

describe('FileAuditStore rotation', () => {
  it('rotates at maxFileSize, keeps at most maxFiles files, and queries span them all', async () => {
    const events = makeChain('sess-rot', 30);
    const maxFileSize = 3 * Math.max(...events.map((e) => Buffer.byteLength(lineOf(e))));
    const store = await openStore({ maxFileSize, maxFiles: 3 });

    for (const event of events) await store.append([event]);

    expect(await auditFiles()).toStrictEqual(['audit.1.jsonl', 'audit.2.jsonl', 'audit.jsonl']);
    for (const name of await auditFiles()) {
      expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(maxFileSize);
    }
    // Oldest first: audit.2 < audit.1 < audit.jsonl, and together the newest events, no gaps.
    const onDisk = [
      ...(await fileLines('audit.2.jsonl')),
      ...(await fileLines('audit.1.jsonl')),
      ...(await fileLines('audit.jsonl')),
    ].map((l) => (JSON.parse(l) as AuditEvent).seq);
    const kept = events.slice(events.length - onDisk.length);
    expect(onDisk).toStrictEqual(kept.map((e) => e.seq));
    expect(kept.length).toBeLessThan(events.length);

    expect(await store.query(q())).toStrictEqual(kept);
    expect(await store.count(q())).toBe(kept.length);
    expect(await store.sessionEvents('sess-rot')).toStrictEqual(kept);
  });

  it('writes a batch bigger than maxFileSize whole, into a fresh file', async () => {
    const small = makeChain('sess-small', 1);
    const big = makeChain('sess-big', 10);
    const store = await openStore({ maxFileSize: 1024, maxFiles: 5 });

    await store.append(small);
    await store.append(big);

    expect(await fileLines('audit.1.jsonl')).toHaveLength(1);
    expect(await fileLines('audit.jsonl')).toHaveLength(10);
    expect(await store.count(q())).toBe(11);
  });

  it('with maxFiles 1, a rotation discards the old file', async () => {
    const [first, second] = [makeChain('sess-1', 3), makeChain('sess-2', 3)];
    const store = await openStore({ maxFileSize: 512, maxFiles: 1 });
    await store.append(first);
    await store.append(second);
    expect(await auditFiles()).toStrictEqual(['audit.jsonl']);
    expect(await store.query(q())).toStrictEqual(second);
  });

  it('stays idempotent for events that were rotated into older files', async () => {
    const events = makeChain('sess-rot', 12);
    const store = await openStore({ maxFileSize: 2048, maxFiles: 10 });
    for (const event of events) await store.append([event]);
    const before = await Promise.all((await auditFiles()).map(fileLines));
    expect(before.length).toBeGreaterThan(2);

    await store.append(events);

    expect(await Promise.all((await auditFiles()).map(fileLines))).toStrictEqual(before);
    expect(await store.count(q())).toBe(events.length);
  });

  it('forgets the ids of a file that rotation deleted, so the id set stays bounded', async () => {
    const [first, second] = [makeChain('sess-1', 3), makeChain('sess-2', 3)];
    const store = await openStore({ maxFileSize: 512, maxFiles: 1 });
    await store.append(first);
    await store.append(second);

    // first's file is gone, so first is no longer stored and may be stored again
    await store.append(first);
    expect(await store.query(q())).toStrictEqual(first);
  });

  it('deleteOlderThan rewrites rotated files, leaves no temp files, and appends go on', async () => {
    const events = makeChain('sess-del', 20, { start: '2025-01-01T00:00:00.000Z', stepMs: 1000 });
    const maxFileSize = 2048;
    const store = await openStore({ maxFileSize, maxFiles: 50 });
    for (const event of events.slice(0, 15)) await store.append([event]);

    expect(await store.deleteOlderThan(new Date('2025-01-01T00:00:10.000Z'))).toBe(10);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toStrictEqual([]);

    for (const event of events.slice(15)) await store.append([event]);
    expect(await store.query(q())).toStrictEqual(events.slice(10));
    for (const name of await auditFiles()) {
      expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(maxFileSize);
    }
  });
});

describe('FileAuditStore after a crash', () => {
  it('skips a torn last line, counts it, and later appends still work', async () => {
    const events = makeChain('sess-crash', 6, { at: (seq) => ({ message: `événement ${seq} 🔥🔥🔥` }) });
    const first = await openStore();
    await first.append(events.slice(0, 4));
    await first.close();

    // 1. The process died half-way through writing event 4, inside a multi-byte character.
    const line = Buffer.from(lineOf(events[4]!), 'utf8');
    const cut = line.indexOf(Buffer.from('🔥', 'utf8')) + 2;
    await appendFile(join(dir, 'audit.jsonl'), line.subarray(0, cut));

    // 2. On restart the torn line is skipped, not fatal.
    const store = await openStore();
    expect(await store.query(q())).toStrictEqual(events.slice(0, 4));
    expect(store.corruptLines).toBe(1);

    // 3. The writer retries the unacknowledged batch; it lands on lines of its own.
    await store.append(events.slice(4));
    const trail = await store.sessionEvents('sess-crash');
    expect(trail).toStrictEqual(events);
    expect(verifyChain('sess-crash', trail)).toMatchObject({ ok: true, complete: true });
    expect(store.corruptLines).toBe(1);

    const lines = await fileLines('audit.jsonl');
    expect(lines).toHaveLength(7);
    expect(lines.filter((l) => !isJson(l))).toHaveLength(1);
  });

  it('re-opening an existing dir keeps idempotency', async () => {
    const events = makeChain('sess-reopen', 5);
    const first = await openStore();
    await first.append(events);
    await first.close();

    const second = await openStore();
    const more = makeChain('sess-more', 2);
    await second.append([...events, ...more]);

    expect(await fileLines('audit.jsonl')).toHaveLength(7);
    expect(await second.count(q())).toBe(7);
    expect(second.corruptLines).toBe(0);
  });

  it('removes temp files a crashed deleteOlderThan left behind', async () => {
    await writeFile(join(dir, '.audit.jsonl.1234.tmp'), 'half a rewrite');
    await openStore();
    expect(await readdir(dir)).toStrictEqual(['audit.jsonl']);
  });
});

describe('FileAuditStore and tampering', () => {
  async function storeWithChain(): Promise<AuditEvent[]> {
    const events = makeChain('sess-t', 5);
    const store = await openStore();
    await store.append(events);
    await store.close();
    return events;
  }

  async function editFile(edit: (lines: string[]) => string[]): Promise<void> {
    const path = join(dir, 'audit.jsonl');
    await writeFile(path, `${edit(await fileLines('audit.jsonl')).join('\n')}\n`);
  }

  // [field, text in the line, what an attacker writes instead]
  const edits: [string, (e: AuditEvent) => [from: string, to: string]][] = [
    ['message', (e) => [`"message":${JSON.stringify(e.message)}`, '"message":"nothing happened"']],
    ['success', () => ['"success":true', '"success":false']],
  ];
  for (const [field, change] of edits) {
    it(`a line with its ${field} changed verifies as altered at that seq`, async () => {
      const events = await storeWithChain();
      const target = events[2]!;
      expect(target.success).toBe(true);
      const [from, to] = change(target);
      await editFile((lines) => lines.map((l, i) => (i === 2 ? l.replace(from, to) : l)));
      expect((await fileLines('audit.jsonl'))[2]).toContain(to);

      const store = await openStore();
      const result = verifyChain('sess-t', await store.sessionEvents('sess-t'));
      expect(result.ok).toBe(false);
      expect(result.first_bad).toMatchObject({ seq: 2, event_id: target.event_id, problem: 'altered' });
    });
  }

  it('a removed line verifies as removed_or_reordered', async () => {
    await storeWithChain();
    await editFile((lines) => lines.filter((_, i) => i !== 2));

    const store = await openStore();
    const result = verifyChain('sess-t', await store.sessionEvents('sess-t'));
    expect(result.ok).toBe(false);
    expect(result.first_bad).toMatchObject({ seq: 3, problem: 'removed_or_reordered' });
  });
});

describe('FileAuditStore concurrency', () => {
  it('a read sees exactly the writes queued before it, even across rotations', async () => {
    const batches = Array.from({ length: 15 }, (_, i) => makeChain(`sess-${i}`, 3));
    const store = await openStore({ maxFileSize: 2048, maxFiles: 1000 });

    // Issued in turn without awaiting: append 0, count, append 1, count, ...
    const counts: Promise<number>[] = [];
    const appends: Promise<void>[] = [];
    for (const batch of batches) {
      appends.push(store.append(batch));
      counts.push(store.count(q()));
    }
    await Promise.all(appends);

    expect(await Promise.all(counts)).toStrictEqual(batches.map((_, i) => 3 * (i + 1)));
    expect((await auditFiles()).length).toBeGreaterThan(3);
  });
});

describe('FileAuditStore lifecycle', () => {
  it('init creates the directory, recursively', async () => {
    const nested = join(dir, 'a', 'b', 'c');
    const store = await openStore({ at: nested });
    await store.append(makeChain('sess-1', 1));
    expect(await readdir(nested)).toStrictEqual(['audit.jsonl']);
  });

  it('is unhealthy when its directory is gone, or once closed', async () => {
    const nested = join(dir, 'logs');
    const store = await openStore({ at: nested });
    expect(await store.health()).toStrictEqual({ status: 'healthy' });

    await rm(nested, { recursive: true });
    expect((await store.health()).status).toBe('unhealthy');

    const other = await openStore();
    await other.close();
    expect((await other.health()).status).toBe('unhealthy');
  });

  it('refuses appends after close with audit_unavailable', async () => {
    const store = await openStore();
    await store.close();
    await expect(store.append(makeChain('sess-1', 1))).rejects.toMatchObject({ code: 'audit_unavailable' });
  });

  it('rejects options that are not positive integers', () => {
    expect(() => new FileAuditStore({ dir, maxFileSize: 0, maxFiles: 1 })).toThrow(/maxFileSize/);
    expect(() => new FileAuditStore({ dir, maxFileSize: 10, maxFiles: 0 })).toThrow(/maxFiles/);
    expect(() => new FileAuditStore({ dir: '', maxFileSize: 10, maxFiles: 1 })).toThrow(/dir/);
  });
});

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
