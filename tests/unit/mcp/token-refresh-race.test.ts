/**
 * Issue 22 (review): two processes sharing MCP_TOKEN_DIR (a cluster, or the daemon and a
 * `run FILE`) refresh the same token at once. The authorization server rotates refresh tokens,
 * so one of them gets invalid_grant: it must not wipe the tokens the other just stored.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationCodeFlow } from '../../../src/capabilities/mcp/auth/authorization-code.ts';
import { TokenStore } from '../../../src/capabilities/mcp/auth/token-store.ts';
import { type OAuthServerFixture, startOAuthServer } from '../../fixtures/mcp/oauth-protected-server.ts';

const KEY = randomBytes(32).toString('base64');

describe('refresh races between processes sharing the token store', () => {
  let dir: string;
  let upstream: OAuthServerFixture;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-refresh-race-'));
    // 61 s tokens: "about to expire" a second after they are issued (refreshed 60 s ahead).
    upstream = await startOAuthServer({ tokenPrefix: 'race', expiresIn: 61 });
  });
  afterAll(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the loser of a refresh race keeps the winner's tokens", async () => {
    const slot = { orgId: 'acme', serverId: 'remote', serverUrl: upstream.mcpUrl };
    const config = { type: 'oauth' as const, grant: 'authorization_code' as const };
    // A person's login, the browser played by a fetch that follows the redirect.
    const login = new AuthorizationCodeFlow(
      config,
      slot,
      new TokenStore(dir, KEY),
      {},
      {
        timeoutMs: 10_000,
        show: (url) => void fetch(url).then((r) => r.text()),
      },
    );
    await login.authorize({ stepUp: false });
    const first = await login.token();
    expect(first).toMatch(/^race-at-/);
    await new Promise((r) => setTimeout(r, 1100));
    // Two daemons (stores of their own, no person) refresh at the same moment.
    const a = new AuthorizationCodeFlow(config, slot, new TokenStore(dir, KEY), {});
    const b = new AuthorizationCodeFlow(config, slot, new TokenStore(dir, KEY), {});
    const [ta, tb] = await Promise.all([a.token(), b.token()]);
    // Both refreshed; the loser's invalid_grant did not wipe the store, so it went on with the
    // winner's new refresh token (a third grant) instead of asking for a login.
    expect(upstream.grants.filter((g) => g === 'refresh_token').length).toBeGreaterThanOrEqual(2);
    expect(ta ?? tb).toBeDefined();
    // What is stored is a live token from the refresh that won, not nothing.
    const stored = (await new TokenStore(dir, KEY).load(slot)).tokens;
    expect(stored?.access_token).toMatch(/^race-at-/);
    expect(stored?.access_token).not.toBe(first);
    expect(stored?.refresh_token).toMatch(/^race-rt-/);
    // ...and the server takes it.
    const probe = await fetch(upstream.mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stored?.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'probe', version: '1' },
        },
      }),
    });
    await probe.body?.cancel();
    expect(probe.status).toBe(200);
  });
});
