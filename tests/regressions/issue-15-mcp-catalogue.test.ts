/**
 * Issue 15, finding 1: any token could run a host program. POST /v1/sessions accepted
 * `mcp_servers[].transport = {type: "stdio", command: "/bin/sh", ...}`, so one org's token ran a
 * shell on the daemon's host. Now an API request names servers of the operator's catalogue by id
 * (403 mcp_server_not_allowed otherwise, audited); the library and the CLI keep full power.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/load.ts';
import { FIXTURE_SERVER, stdioServer } from '../integration/mcp/helpers.ts';
import { auth, type Harness, startHarness } from '../unit/api/api-harness.ts';

const SESSION = { org_id: 'acme', user_id: 'u', agent_id: 'a', planner: { type: 'external' } };
const CATALOGUE = [{ ...stdioServer('fixture'), orgs: ['acme'] }, { ...stdioServer('shared') }];

describe('issue-15: MCP servers over the API come from the operator catalogue', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'semibot-catalogue-'));
    h = await startHarness({}, { mcp: { servers: CATALOGUE } });
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (token: string, body: unknown) =>
    h.api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { ...auth(token), 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it('refuses a stdio command from a token with 403, runs nothing, and audits the refusal', async () => {
    const marker = path.join(dir, 'pwned');
    const res = await post('tok-acme', {
      ...SESSION,
      session_id: 'attack-1',
      mcp_servers: [
        {
          id: 'evil',
          transport: { type: 'stdio', command: '/bin/sh', args: ['-c', `echo pwned > ${marker}`] },
        },
      ],
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'mcp_server_not_allowed' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(marker)).toBe(false);

    await h.runtime.audit.flush();
    const refused = await h.runtime.audit.query({ org_id: 'acme', event_types: ['error'] });
    const event = refused.find((e) => e.metadata?.['requested_session_id'] === 'attack-1');
    expect(event).toMatchObject({
      event_type: 'error',
      org_id: 'acme',
      user_id: 'u',
      success: false,
      metadata: { error_code: 'mcp_server_not_allowed', door: 'api' },
    });
    expect(JSON.stringify(event)).not.toContain('/bin/sh');
  });

  it('refuses an http URL that is not in the catalogue', async () => {
    const res = await post('tok-acme', {
      ...SESSION,
      mcp_servers: [{ id: 'internal', transport: { type: 'http', url: 'http://127.0.0.1:5432/mcp' } }],
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'mcp_server_not_allowed' } });
  });

  it('runs a catalogue server named by id (or {id}) for an org it allows', async () => {
    for (const ref of ['fixture', { id: 'fixture' }, 'shared']) {
      const res = await post('tok-acme', { ...SESSION, mcp_servers: [ref] });
      expect(res.statusCode).toBe(201);
      const id = typeof ref === 'string' ? ref : ref.id;
      expect(res.json().capabilities.map((c: { name: string }) => c.name)).toContain(`mcp__${id}__echo`);
      const session = h.runtime.session(res.json().session_id);
      const result = await session.execute({
        name: `mcp__${id}__echo`,
        params: { message: 'via catalogue' },
      });
      expect(result).toMatchObject({ success: true });
      await session.end();
    }
  });

  it('answers an org outside `orgs` exactly as an id that does not exist (no probing)', async () => {
    const notAllowed = await post('tok-globex', { ...SESSION, org_id: 'globex', mcp_servers: ['fixture'] });
    const unknown = await post('tok-globex', { ...SESSION, org_id: 'globex', mcp_servers: ['nothing'] });
    expect(notAllowed.statusCode).toBe(403);
    expect(unknown.statusCode).toBe(403);
    expect(notAllowed.json().error.message.replace('fixture', 'X')).toBe(
      unknown.json().error.message.replace('nothing', 'X'),
    );
    const shared = await post('tok-globex', { ...SESSION, org_id: 'globex', mcp_servers: ['shared'] });
    expect(shared.statusCode).toBe(201);
  });

  it('the library keeps full power: a full entry works there', async () => {
    const session = await h.runtime.createSession({
      ...SESSION,
      mcp_servers: [stdioServer('direct')],
    } as never);
    expect(session.capabilities.map((c) => c.name)).toContain('mcp__direct__echo');
    await session.end();
  });
});

describe('issue-15: the catalogue in the configuration', () => {
  const entry = {
    id: 'files',
    transport: { type: 'stdio', command: process.execPath, args: [FIXTURE_SERVER] },
  };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'semibot-catalogue-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads MCP_SERVERS_FILE as YAML or JSON', () => {
    const json = path.join(dir, 'servers.json');
    writeFileSync(json, JSON.stringify([{ ...entry, orgs: ['acme'] }]));
    expect(loadConfig({ env: { ENVIRONMENT: 'test', MCP_SERVERS_FILE: json } }).mcp.servers).toEqual([
      { ...entry, orgs: ['acme'] },
    ]);
    const yaml = path.join(dir, 'servers.yaml');
    writeFileSync(yaml, `- id: files\n  transport:\n    type: http\n    url: https://mcp.example.com/mcp\n`);
    expect(loadConfig({ env: { ENVIRONMENT: 'test', MCP_SERVERS_FILE: yaml } }).mcp.servers[0]).toMatchObject(
      {
        id: 'files',
        transport: { type: 'http' },
      },
    );
  });

  it('stops start-up with the key, the value and what was expected', () => {
    const notList = path.join(dir, 'map.yaml');
    writeFileSync(notList, 'files: {}\n');
    expect(() => loadConfig({ env: { ENVIRONMENT: 'test', MCP_SERVERS_FILE: notList } })).toThrow(
      /MCP_SERVERS_FILE \(mcp.servers_file\) = .*map.yaml": expected a list of MCP servers/,
    );
    expect(() =>
      loadConfig({ env: { ENVIRONMENT: 'test', MCP_SERVERS_FILE: path.join(dir, 'missing.yaml') } }),
    ).toThrow(ConfigError);
    expect(() =>
      loadConfig({ env: { ENVIRONMENT: 'test' }, overrides: { mcp: { servers: [entry, entry] as never } } }),
    ).toThrow(/mcp.servers.1.id .*duplicate id files/);
    const badId = path.join(dir, 'bad.json');
    writeFileSync(badId, JSON.stringify([{ ...entry, id: 'has space' }]));
    expect(() => loadConfig({ env: { ENVIRONMENT: 'test', MCP_SERVERS_FILE: badId } })).toThrow(
      /mcp.servers.0.id in .*bad.json/,
    );
  });
});
