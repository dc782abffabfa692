/**
 * Issue 15, finding 7 (last part): session ids were global, so another org learned that an id
 * existed from a 409 session_exists, and could never use it. Now ids are unique within their
 * org: two orgs may each run a session "s1", each sees only its own, and the audit trail keeps
 * them as two chains that verify apart.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSigningKeys } from '../../src/audit/checkpoints.ts';
import { FileAuditStore } from '../../src/audit/stores/file.ts';
import { verifyTrail } from '../../src/audit/verify-trail.ts';
import { runCli } from '../helpers/cli.ts';
import { apiCaller, type Harness, startHarness } from '../unit/api/api-harness.ts';

const SIGNING_KEY = `k1:hmac:${randomBytes(32).toString('base64')}`;
const body = (org: string, extra: Record<string, unknown> = {}) => ({
  org_id: org,
  user_id: `${org}-user`,
  agent_id: 'a',
  session_id: 'shared-id',
  tools: ['echo'],
  planner: { type: 'external' },
  ...extra,
});

describe('issue-15: session ids are unique within an org, not across orgs', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-org-ids-'));
    h = await startHarness({}, { audit: { storage_type: 'file', log_dir: dir, signing_key: SIGNING_KEY } });
  });
  afterAll(async () => {
    await h.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const request = apiCaller(() => h.api);

  it('1. another org creates a session with an id already in use: 201, not 409', async () => {
    const acme = await request('tok-acme', 'POST', '/v1/sessions', body('acme'));
    expect(acme.statusCode).toBe(201);
    const globex = await request('tok-globex', 'POST', '/v1/sessions', body('globex'));
    expect(globex.statusCode).toBe(201);
    expect(globex.json()).toMatchObject({ session_id: 'shared-id', state: 'running' });
    // Within one org the id is still taken.
    const again = await request('tok-acme', 'POST', '/v1/sessions', body('acme'));
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'session_exists' } });
  });

  it("2. each token reaches only its own org's session of that id", async () => {
    const acme = await request('tok-acme', 'POST', '/v1/sessions/shared-id/actions', [
      { name: 'echo', params: { message: 'from acme' } },
    ]);
    expect(acme.statusCode).toBe(200);
    expect(acme.json().results[0]).toMatchObject({ success: true, result: { message: 'from acme' } });
    const globex = await request('tok-globex', 'POST', '/v1/sessions/shared-id/actions', [
      { name: 'echo', params: { message: 'from globex' } },
    ]);
    expect(globex.json().results[0]).toMatchObject({ success: true, result: { message: 'from globex' } });

    const acmeStatus = (await request('tok-acme', 'GET', '/v1/sessions/shared-id')).json();
    const globexStatus = (await request('tok-globex', 'GET', '/v1/sessions/shared-id')).json();
    expect(acmeStatus).toMatchObject({ org_id: 'acme', state: 'running' });
    expect(acmeStatus.results.map((r: { result: unknown }) => r.result)).toEqual([{ message: 'from acme' }]);
    expect(globexStatus).toMatchObject({ org_id: 'globex', state: 'running' });
    expect(globexStatus.results.map((r: { result: unknown }) => r.result)).toEqual([
      { message: 'from globex' },
    ]);
  });

  it("3. cancelling one org's session leaves the other org's session of the same id running", async () => {
    const cancelled = await request('tok-globex', 'DELETE', '/v1/sessions/shared-id');
    expect(cancelled.json()).toMatchObject({ org_id: 'globex', state: 'cancelled' });
    expect((await request('tok-acme', 'GET', '/v1/sessions/shared-id')).json()).toMatchObject({
      org_id: 'acme',
      state: 'running',
    });
    const more = await request('tok-acme', 'POST', '/v1/sessions/shared-id/actions', [
      { name: 'echo', params: { message: 'still here' } },
    ]);
    expect(more.json().results[0]).toMatchObject({ success: true });
    // globex's session has ended; acme's goes on.
    const late = await request('tok-globex', 'POST', '/v1/sessions/shared-id/actions', [
      { name: 'echo', params: {} },
    ]);
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ error: { code: 'session_not_active' } });
  });

  it("4. an audit query by session id returns the token's own org's events only", async () => {
    await h.runtime.audit.flush();
    const res = await request('tok-acme', 'GET', '/v1/audit/events?session_id=shared-id&limit=100');
    const events = res.json().events as Array<{ org_id: string; seq: number }>;
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.org_id))).toEqual(new Set(['acme']));
    expect(events.map((e) => e.seq).sort((a, b) => a - b)[0]).toBe(0);
  });

  it('5. the library names the org when several orgs share an id, and says so when it is not named', async () => {
    expect(h.runtime.session('shared-id', 'acme').orgId).toBe('acme');
    expect(() => h.runtime.session('shared-id')).toThrow(
      expect.objectContaining({ code: 'invalid_request', message: expect.stringContaining('name the org') }),
    );
    expect(() => h.runtime.session('shared-id', 'initech')).toThrow(
      expect.objectContaining({ code: 'session_not_found' }),
    );
    await expect(h.runtime.audit.verify('shared-id')).rejects.toMatchObject({ code: 'invalid_request' });
    for (const org of ['acme', 'globex']) {
      expect(await h.runtime.audit.verify('shared-id', org)).toMatchObject({
        ok: true,
        org_id: org,
        problems: [],
      });
    }
  });

  it('6. after a stop, the store holds two chains of that id, and both verify against the signed checkpoints', async () => {
    await h.runtime.session('shared-id', 'acme').end();
    await h.close();
    const store = new FileAuditStore({ dir, maxFileSize: 100 * 1024 * 1024, maxFiles: 10 });
    await store.init();
    try {
      const trail = await verifyTrail(store, parseSigningKeys(SIGNING_KEY), [{ session_id: 'shared-id' }]);
      expect(trail.problems).toEqual([]);
      expect(trail.sessions.map((s) => [s.org_id, s.ok, s.complete])).toEqual([
        ['acme', true, true],
        ['globex', true, true],
      ]);
      expect(trail.valid).toBe(true);
    } finally {
      await store.close();
    }
    const cli = await runCli(['audit', 'verify', '--session', 'shared-id', '--org', 'globex'], {
      AUDIT_STORAGE_TYPE: 'file',
      AUDIT_LOG_DIR: dir,
      AUDIT_SIGNING_KEY: SIGNING_KEY,
    });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^ok {6}shared-id: \d+ events \[org globex\]$/m);
    expect(cli.stdout).not.toContain('org acme');
    expect(cli.stdout).toContain('1 session(s) checked, 0 broken');
  });
});
