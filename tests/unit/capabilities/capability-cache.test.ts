/** The in-process capability cache: TTL on an injected clock, copies, a size bound, and the Redis fallback. */
import { describe, expect, it } from 'vitest';
import {
  type CachedCapability,
  InProcessCapabilityCache,
  createCapabilityCache,
} from '../../../src/capabilities/cache/capability-cache.ts';

const graph: CachedCapability[] = [
  { name: 'echo', kind: 'tool', version: '1.0.0', source: 'builtin', input_schema: { type: 'object' } },
  { name: 'mcp__fs__read', kind: 'mcp', version: '1', source: 'mcp:fs', input_schema: { type: 'object', properties: { path: { type: 'string' } } } },
];

describe('InProcessCapabilityCache', () => {
  it('answers within the TTL and forgets after it', async () => {
    let now = 1_000;
    const cache = new InProcessCapabilityCache({ now: () => now });
    await cache.set('acme/assistant', graph, 300);
    expect(await cache.get('acme/assistant')).toEqual(graph);
    now += 299_999;
    expect(await cache.get('acme/assistant')).toEqual(graph);
    now += 1;
    expect(await cache.get('acme/assistant')).toBeUndefined();
  });

  it('stores nothing with a TTL of 0 (CAPABILITY_CACHE_TTL=0 turns caching off)', async () => {
    const cache = new InProcessCapabilityCache();
    await cache.set('k', graph, 0);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('hands out copies: one session changing its graph does not change another', async () => {
    const cache = new InProcessCapabilityCache();
    await cache.set('k', graph, 60);
    const first = (await cache.get('k'))!;
    first[0]!.name = 'changed';
    expect((await cache.get('k'))![0]!.name).toBe('echo');
  });

  it('keeps at most maxEntries, dropping the oldest written', async () => {
    const cache = new InProcessCapabilityCache({ maxEntries: 2 });
    await cache.set('a', graph, 60);
    await cache.set('b', graph, 60);
    await cache.set('a', graph, 60); // rewritten: now the newest
    await cache.set('c', graph, 60);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toEqual(graph);
    expect(await cache.get('c')).toEqual(graph);
    expect(cache.health()).toEqual({ status: 'healthy', detail: 'in process, 2 entries' });
  });
});

describe('createCapabilityCache', () => {
  it('is in process without REDIS_URL, and says so with a warning when REDIS_URL is set (no client package)', () => {
    expect(createCapabilityCache({ redis: {} }).warning).toBeUndefined();
    const withRedis = createCapabilityCache({ redis: { url: 'redis://127.0.0.1:6379' } });
    expect(withRedis.cache).toBeInstanceOf(InProcessCapabilityCache);
    expect(withRedis.warning).toContain('no Redis client package');
  });
});
