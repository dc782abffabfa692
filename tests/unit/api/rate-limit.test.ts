/**
 * Rate limiting is per token; without a token, per client address — and behind nginx
 * (trust_proxy) that address comes from X-Forwarded-For, or every client would share one bucket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, auth, startHarness } from './api-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const count = (headers: Record<string, string>) => h!.api.inject({ url: '/v1/audit/count', headers });

describe('rate limiting', () => {
  it('gives each token its own bucket and answers 429 rate_limited when one is empty', async () => {
    h = await startHarness({ rate_limit_max: 3, rate_limit_window_seconds: 60 });
    for (let i = 0; i < 3; i++) expect((await count(auth('tok-acme'))).statusCode).toBe(200);
    const limited = await count(auth('tok-acme'));
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(limited.headers['retry-after']).toBeDefined();
    // Another token, even from the same address, is not affected.
    expect((await count(auth('tok-globex'))).statusCode).toBe(200);
    // /health is never limited (load balancers poll it).
    expect((await h.api.inject({ url: '/health' })).statusCode).toBe(200);
  });

  it('behind a trusted proxy, buckets clients without a token by X-Forwarded-For', async () => {
    h = await startHarness({ rate_limit_max: 2, trust_proxy: 'loopback', api_tokens: {} });
    const from = (ip: string) =>
      h!.api.inject({ url: '/v1/audit/count', headers: { 'x-forwarded-for': ip } });
    expect((await from('203.0.113.7')).statusCode).toBe(200);
    expect((await from('203.0.113.7')).statusCode).toBe(200);
    expect((await from('203.0.113.7')).statusCode).toBe(429);
    expect((await from('198.51.100.9')).statusCode).toBe(200);
  });

  it('without trust_proxy, X-Forwarded-For is ignored (a client cannot pick its own bucket)', async () => {
    h = await startHarness({ rate_limit_max: 2, api_tokens: {} });
    const from = (ip: string) =>
      h!.api.inject({ url: '/v1/audit/count', headers: { 'x-forwarded-for': ip } });
    expect((await from('203.0.113.7')).statusCode).toBe(200);
    expect((await from('198.51.100.9')).statusCode).toBe(200);
    expect((await from('192.0.2.1')).statusCode).toBe(429);
  });
});
