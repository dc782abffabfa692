/**
 * The HTTP API's request counter (src/api/http/rate-limit.ts): fixed windows per bucket, a
 * Retry-After that counts down, and a bounded number of buckets. An injected clock, no sleeps.
 */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/api/http/rate-limit.ts';

const clock = (start = 1_000_000) => {
  const c = { ms: start, now: () => c.ms };
  return c;
};

describe('RateLimiter', () => {
  it('lets max requests through per window, then says when the window ends', () => {
    const c = clock();
    const limiter = new RateLimiter({ max: 2, windowMs: 60_000, now: c.now });
    // 1. The first two requests of the window pass.
    expect(limiter.hit('a')).toBeUndefined();
    c.ms += 10_000;
    expect(limiter.hit('a')).toBeUndefined();
    // 2. The third is refused; the window started 10 s ago, so it ends in 50 s.
    expect(limiter.hit('a')).toEqual({ max: 2, retryAfterSeconds: 50 });
    // 3. Refused requests still count, and Retry-After counts down (rounded up, at least 1).
    c.ms += 49_500;
    expect(limiter.hit('a')?.retryAfterSeconds).toBe(1);
    // 4. A new window starts once the old one is over.
    c.ms += 500;
    expect(limiter.hit('a')).toBeUndefined();
  });

  it('keeps buckets apart', () => {
    const limiter = new RateLimiter({ max: 1, windowMs: 1000, now: clock().now });
    expect(limiter.hit('token-a')).toBeUndefined();
    expect(limiter.hit('token-a')).toBeDefined();
    expect(limiter.hit('ip:203.0.113.7')).toBeUndefined();
  });

  it('keeps at most maxBuckets, sweeping expired windows first', () => {
    const c = clock();
    const limiter = new RateLimiter({ max: 1, windowMs: 1000, maxBuckets: 3, now: c.now });
    for (const b of ['a', 'b', 'c']) limiter.hit(b);
    // 1. All three are live: a fourth bucket pushes out the oldest.
    limiter.hit('d');
    expect(limiter.size).toBe(3);
    expect(limiter.hit('a')).toBeUndefined(); // 'a' was forgotten, so it starts afresh
    // 2. Once their windows are over, the next new bucket sweeps them all.
    c.ms += 1000;
    limiter.hit('e');
    expect(limiter.size).toBe(1);
  });

  it('refuses a nonsensical configuration, naming the values', () => {
    expect(() => new RateLimiter({ max: 10, windowMs: 0 })).toThrow(/windowMs/);
  });
});
