/**
 * Issue 22: a remote MCP server behind OAuth, end to end, as an operator and a person meet it.
 *
 *   daemon without a login → the server's tools are withheld, mcp_disconnected says to log in
 *   `mcp login remote --org acme` (a child process; $BROWSER approves) → tokens stored sealed
 *   the running runtime connects at its next reconnect → calls go out with acme's token only
 *   the token never shows in results, errors, logs or the trail (the server echoes it back)
 *   a token about to expire is refreshed first; another org holds nothing and gets nothing
 *   `mcp logout` → revoked at the authorization server, tools withheld again, audited
 *
 * The authorization server and MCP server are tests/fixtures/mcp/oauth-protected-server.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { createRuntime, type Runtime, type Session } from '../../src/index.ts';
import { cliEnv, REPO, runCli } from '../helpers/cli.ts';
import { type OAuthServerFixture, startOAuthServer } from '../fixtures/mcp/oauth-protected-server.ts';
import { until } from '../helpers/until.ts';

const BROWSER = `${process.execPath} ${path.join(REPO, 'tests/helpers/browser-follow.mjs')}`;
const PREFIX = 'planted-oauth-secret';

/** Waits until the session is offered the remote server's tools (its connection came up). */
function toolsArrive(session: Session): Promise<true> {
  return until(
    async () =>
      (await session.currentCapabilities()).some((c) => c.name === 'mcp__remote__whoami') ? true : undefined,
    'the remote tools',
  );
}

describe('issue-22: a remote MCP server behind OAuth (authorization code)', () => {
  let dir: string;
  let upstream: OAuthServerFixture;
  let runtime: Runtime;
  let env: Record<string, string>;
  const logLines: string[] = [];
  const tokenKey = randomBytes(32).toString('base64');

  const sessionOf = (org: string) =>
    runtime.createSession({
      org_id: org,
      user_id: 'u',
      agent_id: 'oauth-agent',
      mcp_servers: ['remote'],
      policy: { max_iterations: 1000 },
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-oauth-'));
    // Tokens live 61 s: the runtime refreshes 60 s before expiry, so each is "about to expire"
    // a second after it is issued and the next request refreshes it first.
    upstream = await startOAuthServer({ tokenPrefix: PREFIX, expiresIn: 61 });
    const catalogue = [
      { id: 'remote', transport: { type: 'http', url: upstream.mcpUrl }, auth: { type: 'oauth' } },
      { id: 'plain', transport: { type: 'http', url: upstream.mcpUrl } },
    ];
    await writeFile(path.join(dir, 'servers.json'), JSON.stringify(catalogue));
    env = cliEnv(dir, {
      MCP_SERVERS_FILE: path.join(dir, 'servers.json'),
      MCP_TOKEN_DIR: path.join(dir, 'tokens'),
      MCP_TOKEN_KEY: tokenKey,
      BROWSER,
    });
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    runtime = createRuntime(
      {
        audit: { storage_type: 'file', log_dir: path.join(dir, 'audit'), flush_interval: 0.05 },
        runtime: { workers: 1, sandbox_dir: path.join(dir, 'sandbox') },
        mcp: { reconnect_delay: 0.2, connection_timeout: 5 },
      },
      { env: { ...env, LOG_LEVEL: 'debug' }, logger: createLogger({ log_level: 'debug' }, sink) },
    );
    await runtime.start();
  });
  afterAll(async () => {
    await runtime?.stop();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('without a login the server contributes no tools, and the trail says how to log in', async () => {
    const session = await sessionOf('acme');
    const names = (await session.currentCapabilities()).map((c) => c.name);
    expect(names.filter((n) => n.startsWith('mcp__remote__'))).toEqual([]);
    const events = await runtime.audit.query({ session_id: session.id, event_types: ['mcp_disconnected'] });
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]!.error_message).toContain('needs authorization for org acme');
    expect(events[0]!.error_message).toContain('semibot-runtime mcp login remote --org acme');
    // The daemon did not register a client or ask for a token on its own.
    expect(upstream.grants).toEqual([]);
    await session.end();
  });

  it('mcp login prints the URL, opens $BROWSER, takes the code on the loopback redirect and stores the tokens sealed', async () => {
    const login = await runCli(['mcp', 'login', 'remote', '--org', 'acme', '--timeout', '30'], env);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('MCP server remote needs a login for org acme');
    expect(login.stderr).toMatch(/http:\/\/127\.0\.0\.1:\d+\/authorize\?/);
    expect(login.stdout).toContain('remote: org acme is authorized; 3 tool(s)');
    expect(upstream.grants).toContain('authorization_code');
    // On disk: one file, private, holding none of the tokens in clear.
    const files = await readdir(path.join(dir, 'tokens'));
    expect(files).toHaveLength(1);
    const file = path.join(dir, 'tokens', files[0]!);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(PREFIX);
    expect(JSON.parse(text)).toMatchObject({
      format: 'semibot-mcp-token/1',
      org_id: 'acme',
      server_id: 'remote',
    });
  });

  it('a second login with good tokens asks nobody', async () => {
    const again = await runCli(['mcp', 'login', 'remote', '--org', 'acme', '--timeout', '10'], {
      ...env,
      BROWSER: '',
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('the stored tokens were still good');
    expect(again.stderr).not.toContain('needs a login');
  });

  it('the running runtime uses the login; a token the server echoes back is redacted everywhere', async () => {
    const session = await sessionOf('acme');
    await toolsArrive(session);
    const ok = await session.execute({ name: 'mcp__remote__whoami', params: {} });
    expect(ok.success, JSON.stringify(ok)).toBe(true);
    expect(JSON.stringify(ok.result)).toContain('you sent Bearer [REDACTED]');
    const failed = await session.execute({ name: 'mcp__remote__fail', params: {} });
    expect(failed.success).toBe(false);
    expect(failed.error?.code).toBe('mcp_call_failed');
    expect(failed.error?.message).toContain('[REDACTED]');
    // The server did get a real token from us...
    expect(upstream.seenAuthorization.some((h) => h?.startsWith(`Bearer ${PREFIX}-at-`))).toBe(true);
    await session.end();
    // ...and no token appears in the trail or the logs.
    const trail = JSON.stringify(await runtime.audit.query({}));
    for (const token of upstream.issued) {
      expect(trail).not.toContain(token);
      expect(logLines.join('')).not.toContain(token);
    }
    expect(trail).not.toContain(PREFIX);
  });

  it('refreshes a token before it expires, without a person', async () => {
    const refreshesBefore = upstream.grants.filter((g) => g === 'refresh_token').length;
    await new Promise((r) => setTimeout(r, 1100));
    const session = await sessionOf('acme');
    await toolsArrive(session);
    const result = await session.execute({ name: 'mcp__remote__whoami', params: {} });
    expect(result.success, JSON.stringify(result)).toBe(true);
    expect(upstream.grants.filter((g) => g === 'refresh_token').length).toBeGreaterThan(refreshesBefore);
    await session.end();
  });

  it('with the authorization server down, calls go on with the token in hand; an expired token is refreshed once it is back', async () => {
    upstream.setTokenEndpointDown(true);
    try {
      await new Promise((r) => setTimeout(r, 1100));
      const session = await sessionOf('acme');
      await toolsArrive(session);
      const result = await session.execute({ name: 'mcp__remote__whoami', params: {} });
      expect(result.success, JSON.stringify(result)).toBe(true);
      expect(upstream.grants).toContain('refused: down');
      await session.end();
    } finally {
      upstream.setTokenEndpointDown(false);
    }
    // Back up, a failed refresh is not retried on every request (it waits 30 s), but a token
    // the server no longer takes is refreshed at once, without a person.
    const refreshes = upstream.grants.filter((g) => g === 'refresh_token').length;
    const session = await sessionOf('acme');
    await toolsArrive(session);
    upstream.expireAccessTokens();
    const result = await session.execute({ name: 'mcp__remote__whoami', params: {} });
    expect(result.success, JSON.stringify(result)).toBe(true);
    expect(upstream.grants.filter((g) => g === 'refresh_token').length).toBeGreaterThan(refreshes);
    await session.end();
  });

  it("tokens are per org: another org's session gets nothing from acme's login", async () => {
    const seen = upstream.seenAuthorization.length;
    const session = await sessionOf('beta');
    const names = (await session.currentCapabilities()).map((c) => c.name);
    expect(names.filter((n) => n.startsWith('mcp__remote__'))).toEqual([]);
    const events = await runtime.audit.query({ session_id: session.id, event_types: ['mcp_disconnected'] });
    expect(events[0]?.error_message).toContain('--org beta');
    // What beta's connection sent carried no token at all.
    expect(upstream.seenAuthorization.slice(seen).every((h) => h === undefined)).toBe(true);
    await session.end();
  });

  it('a grant revoked at the server withholds the tools and audits why', async () => {
    const session = await sessionOf('acme');
    await toolsArrive(session);
    upstream.revokeAll();
    const refused = await session.execute({ name: 'mcp__remote__whoami', params: {} });
    expect(refused.success).toBe(false);
    expect(refused.error?.code).toBe('mcp_authorization_required');
    expect(refused.error?.message).toContain('mcp login remote --org acme');
    await until(
      async () =>
        (await session.currentCapabilities()).some((c) => c.name.startsWith('mcp__remote__'))
          ? undefined
          : true,
      'the tools withheld',
    );
    const events = await runtime.audit.query({ session_id: session.id, event_types: ['mcp_disconnected'] });
    expect(events.some((e) => e.error_message?.includes('needs authorization for org acme'))).toBe(true);
    await session.end();
  });

  it('mcp logout deletes the tokens and revokes them at the authorization server', async () => {
    const relogin = await runCli(['mcp', 'login', 'remote', '--org', 'acme', '--force'], env);
    expect(relogin.code, relogin.stderr).toBe(0);
    const out = await runCli(['mcp', 'logout', 'remote', '--org', 'acme'], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('deleted and revoked at the authorization server');
    expect(upstream.revoked.at(-1)).toContain(`${PREFIX}-rt-`);
    expect(await readdir(path.join(dir, 'tokens'))).toEqual([]);
    const twice = await runCli(['mcp', 'logout', 'remote', '--org', 'acme'], env);
    expect(twice.stdout).toContain('org acme held no authorization');
  });

  it('run FILE asks for the login itself when a server needs one, and goes on', async () => {
    const file = path.join(dir, 'session.json');
    await writeFile(
      file,
      JSON.stringify({
        org_id: 'gamma',
        user_id: 'u',
        agent_id: 'oauth-agent',
        mcp_servers: ['remote'],
        planner: { type: 'scripted', steps: [[{ name: 'mcp__remote__whoami', params: {} }]] },
      }),
    );
    const run = await runCli(['run', file], env);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stderr).toContain('MCP server remote needs a login for org gamma');
    expect(run.stdout).toContain('you sent Bearer [REDACTED]');
    expect(run.stdout + run.stderr).not.toContain(PREFIX);
  });

  it('refuses a login for a server the org may not use, or that needs none', async () => {
    const plain = await runCli(['mcp', 'login', 'plain', '--org', 'acme'], env);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('MCP server plain needs no login');
    const unknown = await runCli(['mcp', 'login', 'nope', '--org', 'acme'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('mcp_server_not_allowed');
    const noArgs = await runCli(['mcp', 'login'], env);
    expect(noArgs.code).toBe(2);
    const badTimeout = await runCli(['mcp', 'login', 'remote', '--timeout', 'soon'], env);
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain('--timeout must be a positive number of seconds');
  });
});
