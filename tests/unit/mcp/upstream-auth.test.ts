/**
 * Issue 22: the pieces under a remote server's authorization that an attacker with the disk or
 * the config could try: the sealed token store (edited, moved, opened with another key, or after
 * the server's URL changed) and the catalogue's `auth` entries (each mistake refused at load,
 * naming the key), plus the loopback redirect (a request without the login's state is refused).
 */
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/load.ts';
import { LoopbackRedirect } from '../../../src/capabilities/mcp/auth/loopback-redirect.ts';
import { TokenStore } from '../../../src/capabilities/mcp/auth/token-store.ts';
import { createRuntime } from '../../../src/index.ts';

const KEY = randomBytes(32).toString('base64');
const SLOT = { orgId: 'acme', serverId: 'remote', serverUrl: 'https://mcp.example.com/mcp' };
const TOKENS = {
  access_token: 'planted-at-0123456789',
  token_type: 'Bearer',
  refresh_token: 'planted-rt-9876543210',
};

describe('the sealed token store (MCP_TOKEN_DIR, MCP_TOKEN_KEY)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-tokens-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores tokens sealed and reads them back', async () => {
    const store = new TokenStore(dir, KEY);
    await store.update(SLOT, (r) => ({ ...r, tokens: TOKENS, obtained_at: 1 }));
    expect((await store.load(SLOT)).tokens).toEqual(TOKENS);
    const [file] = await readdir(dir);
    const text = await readFile(path.join(dir, file!), 'utf8');
    expect(text).not.toContain('planted');
    // A second store (another process) with the same key reads it too.
    expect((await new TokenStore(dir, KEY).load(SLOT)).tokens?.access_token).toBe(TOKENS.access_token);
  });

  it('refuses a file sealed under another key, for another org or URL, or edited', async () => {
    const other = new TokenStore(dir, randomBytes(32).toString('base64'));
    await expect(other.load(SLOT)).rejects.toMatchObject({ code: 'mcp_token_unreadable' });
    const store = new TokenStore(dir, KEY);
    await expect(store.load({ ...SLOT, serverUrl: 'https://evil.example.com/mcp' })).rejects.toThrow(
      /another org, server or URL/,
    );
    // Moved into another org's place: it does not open there either.
    const [file] = await readdir(dir);
    const beta = { ...SLOT, orgId: 'beta' };
    await store.update(beta, (r) => ({ ...r, tokens: { ...TOKENS, access_token: 'beta-token' } }));
    const betaFile = (await readdir(dir)).find((f) => f !== file)!;
    await rename(path.join(dir, file!), path.join(dir, betaFile));
    await expect(store.load(beta)).rejects.toMatchObject({ code: 'mcp_token_unreadable' });
    // An edited file does not open.
    await store.update(SLOT, (r) => ({ ...r, tokens: TOKENS }));
    const target = path.join(dir, (await readdir(dir)).find((f) => f !== betaFile)!);
    const envelope = JSON.parse(await readFile(target, 'utf8')) as { sealed: string };
    const bytes = Buffer.from(envelope.sealed, 'base64');
    bytes[20] = bytes[20]! ^ 1;
    await writeFile(target, JSON.stringify({ ...envelope, sealed: bytes.toString('base64') }));
    await expect(store.load(SLOT)).rejects.toMatchObject({ code: 'mcp_token_unreadable' });
    await writeFile(target, 'not json');
    await expect(store.load(SLOT)).rejects.toThrow(/it is not JSON/);
    // A new login replaces a file that no longer opens.
    await store.update(SLOT, (r) => ({ ...r, tokens: TOKENS }));
    expect((await store.load(SLOT)).tokens).toEqual(TOKENS);
  });

  it('sees a logout made by another process at the next read', async () => {
    const daemon = new TokenStore(dir, KEY);
    expect((await daemon.load(SLOT)).tokens).toBeDefined();
    expect(await new TokenStore(dir, KEY).remove(SLOT)).toBe(true);
    expect(await daemon.load(SLOT)).toEqual({});
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new TokenStore(dir, 'c2hvcnQ=')).toThrow(/a MCP_TOKEN_KEY key must be 32 bytes/);
  });
});

describe('catalogue auth entries', () => {
  const load = (server: Record<string, unknown>, env: Record<string, string> = {}) =>
    loadConfig({ env: { ENVIRONMENT: 'test', ...env }, overrides: { mcp: { servers: [server] } } as never });
  const http = { id: 'remote', transport: { type: 'http', url: 'https://mcp.example.com/mcp' } };

  it('refuses an authorization-code server without MCP_TOKEN_KEY, naming the server', () => {
    expect(() => load({ ...http, auth: { type: 'oauth' } })).toThrow(ConfigError);
    expect(() => load({ ...http, auth: { type: 'oauth' } })).toThrow(
      /MCP server remote uses OAuth authorization codes: set MCP_TOKEN_KEY/,
    );
  });

  it.each([
    [
      {
        id: 'local',
        transport: { type: 'stdio', command: 'node' },
        auth: { type: 'bearer', token_env: 'T' },
      },
      /auth is for http servers/,
    ],
    [{ ...http, auth: { type: 'bearer' } }, /token_env/],
    [{ ...http, auth: { type: 'bearer', token_env: 'not a name' } }, /the name of an environment variable/],
    [
      { ...http, auth: { type: 'oauth', grant: 'client_credentials', client_secret_env: 'S' } },
      /auth\.client_id/,
    ],
    [
      { ...http, auth: { type: 'oauth', grant: 'client_credentials', client_id: 'c' } },
      /one of client_secret_env or private_key_file/,
    ],
    [
      {
        ...http,
        auth: { type: 'oauth', grant: 'client_credentials', client_id: 'c', private_key_file: 'k.pem' },
      },
      /private_key_file needs signing_algorithm/,
    ],
    [{ ...http, auth: { type: 'oauth', grant: 'implicit' } }, /grant/],
    [
      { ...http, auth: { type: 'oauth', client_metadata_url: 'http://plain.example.com/meta.json' } },
      /client_metadata_url/,
    ],
    [
      { ...http, auth: { type: 'oauth', client_secret_env: 'S' } },
      /client_secret_env belongs to a pre-registered client_id/,
    ],
    [{ ...http, auth: { type: 'oauth', token: 'inline-secret' } }, /token/],
  ])('refuses %j', (server, message) => {
    expect(() => load(server, { MCP_TOKEN_KEY: KEY })).toThrow(ConfigError);
    expect(() => load(server, { MCP_TOKEN_KEY: KEY })).toThrow(message);
  });

  it('accepts each kind of entry, and a bad MCP_TOKEN_KEY stops the start', async () => {
    expect(() =>
      load(
        { ...http, auth: { type: 'oauth', client_id: 'pre', client_secret_env: 'S' } },
        { MCP_TOKEN_KEY: KEY },
      ),
    ).not.toThrow();
    expect(() => load({ ...http, auth: { type: 'bearer', token_env: 'T' } })).not.toThrow();
    expect(() =>
      load({
        ...http,
        auth: { type: 'oauth', grant: 'client_credentials', client_id: 'm2m', client_secret_env: 'S' },
      }),
    ).not.toThrow();
    const runtime = createRuntime(
      { runtime: { workers: 1 }, audit: { storage_type: 'memory' }, mcp: { token_key: 'too-short' } },
      { env: { ENVIRONMENT: 'test' } },
    );
    await expect(runtime.start()).rejects.toThrow(/MCP_TOKEN_KEY key must be 32 bytes/);
    await runtime.stop().catch(() => {});
  });
});

describe('the loopback redirect of a login', () => {
  it('takes only the redirect that carries the login state, and says so to anything else', async () => {
    const redirect = await LoopbackRedirect.listen(0);
    try {
      const code = redirect.expect('the-state', 5000);
      const forged = await fetch(`${redirect.url}?code=forged&state=guess`);
      expect(forged.status).toBe(400);
      expect(await forged.text()).not.toContain('forged');
      expect((await fetch(new URL('/other', redirect.url))).status).toBe(404);
      // A huge request and odd Unicode are refused with a 4xx, and the login still completes.
      const huge = await fetch(`${redirect.url}?code=${'x'.repeat(100_000)}&state=the-state`).catch(
        () => undefined,
      );
      if (huge) expect(huge.status).toBeGreaterThanOrEqual(400);
      const odd = await fetch(`${redirect.url}?code=%F0%9F%92%A9%ED%A0%80&state=%E2%80%AEthe-state`);
      expect(odd.status).toBe(400);
      const real = await fetch(`${redirect.url}?code=the-code&state=the-state`);
      expect(real.status).toBe(200);
      await expect(code).resolves.toBe('the-code');
    } finally {
      await redirect.close();
    }
  });

  it('answers a large POST with a 4xx, and a client trickling its headers holds up no login', async () => {
    const redirect = await LoopbackRedirect.listen(0);
    const slow = connect(Number(new URL(redirect.url).port), '127.0.0.1');
    try {
      const code = redirect.expect('the-state', 5000);
      // Opens a request and never finishes its headers (a slowloris), holding its socket.
      await new Promise<void>((resolve) => slow.once('connect', resolve));
      slow.write('GET /callback?state=the-state&code=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      const posted = await fetch(redirect.url, { method: 'POST', body: 'x'.repeat(1_000_000) }).catch(
        () => undefined,
      );
      if (posted) expect(posted.status).toBe(404);
      const real = await fetch(`${redirect.url}?code=the-code&state=the-state`);
      expect(real.status).toBe(200);
      await expect(code).resolves.toBe('the-code');
    } finally {
      slow.destroy();
      await redirect.close();
    }
  });

  it('reports a refusal at the authorization server and a login nobody completes', async () => {
    const redirect = await LoopbackRedirect.listen(0);
    try {
      const denied = expect(redirect.expect('s1', 5000)).rejects.toThrow(
        'the authorization server answered access_denied: no thanks?<b>',
      );
      await fetch(
        `${redirect.url}?error=access_denied&error_description=${encodeURIComponent('no thanks\u0000<b>')}&state=s1`,
      );
      await denied;
      await expect(redirect.expect('s2', 50)).rejects.toThrow(/nobody completed the login within 0 s/);
    } finally {
      await redirect.close();
    }
  });
});
