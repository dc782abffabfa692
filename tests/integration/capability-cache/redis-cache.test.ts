/**
 * The Redis capability cache against a real Redis: entries with their TTL, invalidation by MCP
 * server, a damaged entry read as a miss, and Redis going away and coming back (a private
 * redis-server the test kills), during which the cache answers from this node alone.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CachedCapabilities } from '../../../src/capabilities/cache/capability-cache.ts';
import { RedisCapabilityCache } from '../../../src/capabilities/cache/redis-capability-cache.ts';
import { createLogger } from '../../../src/log.ts';
import { freePort } from '../../helpers/net.ts';
import { PrivateRedis, SHARED_REDIS_URL, testPrefix } from '../../helpers/redis.ts';
import { waitFor } from '../mcp/helpers.ts';

const SERVER_A = 'acme/fs/aaa';
const SERVER_B = 'acme/git/bbb';
const entry = (tool: string): CachedCapabilities => ({
  built_at: new Date().toISOString(),
  mcp_tools: {
    [SERVER_A]: [
      { name: tool, description: 'línea\tcon\nescapes "y" \\ barras', input_schema: { type: 'object' }, read_only: true, idempotent: false },
    ],
  },
});

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger({ log_level: 'debug' }, sink), lines };
}

const opened: RedisCapabilityCache[] = [];
const prefixes: Array<{ cleanup(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  await Promise.all(prefixes.splice(0).map((p) => p.cleanup()));
});

async function sharedCache() {
  const p = testPrefix();
  prefixes.push(p);
  const { log, lines } = capturingLogger();
  const cache = new RedisCapabilityCache(SHARED_REDIS_URL, { log, prefix: p.prefix });
  opened.push(cache);
  await cache.connect();
  return { cache, prefix: p.prefix, lines };
}

describe('RedisCapabilityCache on the real Redis', () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(SHARED_REDIS_URL);
  });
  afterAll(() => raw.disconnect());

  it('round-trips an entry exactly and keeps it for the TTL (EX in Redis)', async () => {
    const { cache, prefix } = await sharedCache();
    const written = entry('read');
    await cache.set('agent-1', written, 120, [SERVER_A]);
    expect(await cache.get('agent-1')).toEqual(written);
    const ttl = await raw.ttl(`${prefix}entry:agent-1`);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    expect(await cache.get('never-written')).toBeUndefined();
    expect(cache.health()).toEqual({ status: 'healthy', detail: expect.stringMatching(/^redis 127\.0\.0\.1:6379$/) });
  });

  it('is shared: what one node writes, another reads', async () => {
    const { cache, prefix } = await sharedCache();
    const other = new RedisCapabilityCache(SHARED_REDIS_URL, { log: capturingLogger().log, prefix });
    opened.push(other);
    await other.connect();
    await cache.set('agent-1', entry('read'), 60, [SERVER_A]);
    expect((await other.get('agent-1'))?.mcp_tools[SERVER_A]?.[0]?.name).toBe('read');
  });

  it('drops exactly the entries built with a server whose tool list changed, on every node', async () => {
    const { cache, prefix } = await sharedCache();
    await cache.set('uses-a', entry('read'), 60, [SERVER_A]);
    await cache.set('uses-both', entry('read'), 60, [SERVER_A, SERVER_B]);
    await cache.set('uses-b', entry('read'), 60, [SERVER_B]);
    await cache.invalidateServer(SERVER_A);
    expect(await cache.get('uses-a')).toBeUndefined();
    expect(await cache.get('uses-both')).toBeUndefined();
    expect(await cache.get('uses-b')).toBeDefined();
    expect(await raw.exists(`${prefix}server:${SERVER_A}`)).toBe(0);
  });

  it('reads an entry of an unknown shape (another version, damage) as a miss, with a warning', async () => {
    const { cache, prefix, lines } = await sharedCache();
    await raw.set(`${prefix}entry:agent-x`, '{"not":"an entry"');
    expect(await cache.get('agent-x')).toBeUndefined();
    await raw.set(`${prefix}entry:agent-y`, JSON.stringify({ built_at: 'x', mcp_tools: { s: [{ name: 1 }] } }));
    expect(await cache.get('agent-y')).toBeUndefined();
    expect(lines.filter((l) => /unknown shape/.test(l.msg))).toHaveLength(2);
  });
});

describe('Redis going away', () => {
  it('a Redis that is not there at start: in process, degraded, one warning; shared once it starts', async () => {
    const { log, lines } = capturingLogger();
    const port = await freePort();
    const cache = new RedisCapabilityCache(`redis://127.0.0.1:${port}`, { log, connectTimeoutMs: 500, retryAfterMs: 100 });
    opened.push(cache);
    await cache.connect();
    await cache.set('agent-1', entry('read'), 60, [SERVER_A]);
    expect((await cache.get('agent-1'))?.mcp_tools[SERVER_A]?.[0]?.name).toBe('read');
    await cache.invalidateServer(SERVER_A);
    expect(await cache.get('agent-1')).toBeUndefined();
    expect(cache.health().status).toBe('degraded');
    expect(cache.health().detail).toMatch(/unreachable .*in process on this node/);
    expect(lines.filter((l) => l.level === 40 && /falls back/.test(l.msg))).toHaveLength(1);

    const late = await PrivateRedis.start(port);
    try {
      await waitFor(async () => {
        await cache.get('agent-1');
        return cache.health().status === 'healthy' || undefined;
      });
      await cache.set('agent-1', entry('read'), 60, [SERVER_A]);
      const raw = new Redis(late.url);
      expect(await raw.exists('semibot:capabilities:entry:agent-1')).toBe(1);
      raw.disconnect();
    } finally {
      await late.stop();
    }
  });

  it('falls back when Redis dies, and goes back to Redis when it returns', async () => {
    const redis = await PrivateRedis.start();
    try {
      const { log, lines } = capturingLogger();
      const cache = new RedisCapabilityCache(redis.url, { log });
      opened.push(cache);
      await cache.connect();
      await cache.set('before', entry('read'), 60, [SERVER_A]);
      expect(cache.health().status).toBe('healthy');

      await redis.stop();
      // The next commands fail fast (no offline queue) and are answered on this node.
      await cache.set('during', entry('write'), 60, [SERVER_A]);
      expect((await cache.get('during'))?.mcp_tools[SERVER_A]?.[0]?.name).toBe('write');
      expect(cache.health()).toMatchObject({ status: 'degraded', detail: expect.stringContaining(`127.0.0.1:${redis.port}`) });

      await redis.resume(); // an empty Redis (nothing on disk), on the same port
      await waitFor(() => cache.health().status === 'healthy' || undefined, 15_000);
      expect(lines.some((l) => /reachable again/.test(l.msg))).toBe(true);
      // What was cached on this node during the outage is gone; Redis answers again.
      expect(await cache.get('during')).toBeUndefined();
      await cache.set('after', entry('read'), 60, [SERVER_A]);
      const raw = new Redis(redis.url);
      expect(await raw.exists('semibot:capabilities:entry:after')).toBe(1);
      raw.disconnect();
      expect(lines.filter((l) => l.level === 40 && /falls back/.test(l.msg))).toHaveLength(1);
    } finally {
      await redis.stop();
    }
  });

  it('a hung Redis (SIGSTOP) costs one command timeout, then is left alone until it answers again', async () => {
    const redis = await PrivateRedis.start();
    try {
      const { log, lines } = capturingLogger();
      const cache = new RedisCapabilityCache(redis.url, { log, commandTimeoutMs: 200, retryAfterMs: 300 });
      opened.push(cache);
      await cache.connect();
      await cache.set('before', entry('read'), 60, [SERVER_A]);

      redis.freeze();
      // The first command times out and the node's own cache answers; the connection stays
      // open, so only the retry interval keeps later commands from waiting out the timeout too.
      expect(await cache.get('before')).toBeUndefined();
      expect(cache.health()).toMatchObject({ status: 'degraded', detail: expect.stringMatching(/timed out/i) });
      await cache.set('during', entry('write'), 60, [SERVER_A]);
      expect((await cache.get('during'))?.mcp_tools[SERVER_A]?.[0]?.name).toBe('write');

      redis.thaw();
      await waitFor(async () => {
        await cache.get('before');
        return cache.health().status === 'healthy' || undefined;
      });
      expect((await cache.get('before'))?.mcp_tools[SERVER_A]?.[0]?.name).toBe('read');
      expect(lines.some((l) => /reachable again/.test(l.msg))).toBe(true);
    } finally {
      await redis.stop();
    }
  });
});
