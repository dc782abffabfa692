/** The in-process capability cache: TTL on an injected clock, copies, a size bound, invalidation by server. */
import { describe, expect, it } from 'vitest';
import { type CachedCapabilities, InProcessCapabilityCache } from '../../../src/capabilities/cache/capability-cache.ts';

const FS = 'acme/fs/abc123';
const GIT = 'acme/git/def456';
const entry: CachedCapabilities = {
  built_at: '2026-11-25T12:00:00.000Z',
  mcp_tools: {
    [FS]: [
      {
        name: 'read',
        description: 'Reads a file.',
        input_schema: { type: 'object', properties: { path: { type: 'string' } } },
        read_only: true,
        idempotent: false,
      },
    ],
  },
};

describe('InProcessCapabilityCache', () => {
  it('answers within the TTL and forgets after it', async () => {
    let now = 1_000;
    const cache = new InProcessCapabilityCache({ now: () => now });
    await cache.set('acme/assistant', entry, 300, [FS]);
    expect(await cache.get('acme/assistant')).toEqual(entry);
    now += 299_999;
    expect(await cache.get('acme/assistant')).toEqual(entry);
    now += 1;
    expect(await cache.get('acme/assistant')).toBeUndefined();
  });

  it('stores nothing with a TTL of 0 (CAPABILITY_CACHE_TTL=0 turns caching off)', async () => {
    const cache = new InProcessCapabilityCache();
    await cache.set('k', entry, 0, [FS]);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('hands out copies: one caller changing what it got does not change the next one', async () => {
    const cache = new InProcessCapabilityCache();
    await cache.set('k', entry, 60, [FS]);
    const first = (await cache.get('k'))!;
    first.mcp_tools[FS]![0]!.name = 'changed';
    expect((await cache.get('k'))!.mcp_tools[FS]![0]!.name).toBe('read');
  });

  it('keeps at most maxEntries, dropping the oldest written', async () => {
    const cache = new InProcessCapabilityCache({ maxEntries: 2 });
    await cache.set('a', entry, 60, [FS]);
    await cache.set('b', entry, 60, [FS]);
    await cache.set('a', entry, 60, [FS]); // rewritten: now the newest
    await cache.set('c', entry, 60, [FS]);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toEqual(entry);
    expect(await cache.get('c')).toEqual(entry);
    expect(cache.health()).toEqual({ status: 'healthy', detail: 'in process, 2 entries' });
  });

  it('drops exactly the entries built with a server whose tool list changed', async () => {
    const cache = new InProcessCapabilityCache();
    await cache.set('uses-fs', entry, 60, [FS]);
    await cache.set('uses-both', entry, 60, [FS, GIT]);
    await cache.set('uses-git', entry, 60, [GIT]);
    await cache.invalidateServer(FS);
    expect(await cache.get('uses-fs')).toBeUndefined();
    expect(await cache.get('uses-both')).toBeUndefined();
    expect(await cache.get('uses-git')).toEqual(entry);
    // the index went with them: a second invalidation is a no-op, and GIT's still works
    await cache.invalidateServer(FS);
    await cache.invalidateServer(GIT);
    expect(cache.size).toBe(0);
  });
});
