/**
 * Issue 18: GET /v1/sessions lists an org's sessions (newest first, cursor paging that neither
 * skips nor repeats, state and agent filters, counts) and GET /v1/sessions/:id/verify checks
 * one session's chain and the signed checkpoints. Two orgs, the read role, bad input → 4xx.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, type Harness, startHarness } from '../unit/api/api-harness.ts';

const TOKENS = {
  'tok-runner': 'acme:runner:run+read',
  'tok-bot': 'acme:bot:run',
  'tok-globex': 'globex:gl:run+read',
};
const SESSION = { org_id: 'acme', user_id: 'u', tools: ['echo'], planner: { type: 'external' } };

describe('issue-18: sessions list and verify routes', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-list-'));
    h = await startHarness(
      { api_tokens: TOKENS },
      {
        audit: {
          storage_type: 'file',
          log_dir: dir,
          signing_key: `k:hmac:${randomBytes(32).toString('base64')}`,
        },
      },
    );
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = apiCaller(() => h.api);

  it("lists the org's sessions newest first, pages by cursor without gaps or repeats, and filters", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = `list-${i}`;
      const agent = i % 2 === 0 ? 'even' : 'odd';
      expect(
        (await call('tok-runner', 'POST', '/v1/sessions', { ...SESSION, agent_id: agent, session_id: id }))
          .statusCode,
      ).toBe(201);
      await call('tok-runner', 'POST', `/v1/sessions/${id}/actions`, [
        { name: 'echo', params: { message: `m${i}` } },
      ]);
      ids.push(id);
    }
    await call('tok-runner', 'DELETE', '/v1/sessions/list-0');
    await call('tok-globex', 'POST', '/v1/sessions', {
      ...SESSION,
      org_id: 'globex',
      agent_id: 'even',
      session_id: 'list-globex',
    });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call('tok-runner', 'GET', `/v1/sessions?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.sessions.length).toBeLessThanOrEqual(3);
      seen.push(...body.sessions.map((s: { session_id: string }) => s.session_id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const first = (await call('tok-runner', 'GET', '/v1/sessions?limit=10')).json().sessions;
    expect(first.find((s: { session_id: string }) => s.session_id === 'list-1')).toMatchObject({
      org_id: 'acme',
      agent_id: 'odd',
      state: 'running',
      started_by: 'runner',
      counts: { actions: 1, failed: 0, approvals: 0 },
    });
    expect(first.find((s: { session_id: string }) => s.session_id === 'list-0')).toMatchObject({
      state: 'cancelled',
    });
    const odd = (await call('tok-runner', 'GET', '/v1/sessions?agent_id=odd')).json().sessions;
    expect(odd.map((s: { session_id: string }) => s.session_id)).toEqual(['list-5', 'list-3', 'list-1']);
    const cancelled = (await call('tok-runner', 'GET', '/v1/sessions?state=cancelled')).json().sessions;
    expect(cancelled.map((s: { session_id: string }) => s.session_id)).toEqual(['list-0']);
    const globex = (await call('tok-globex', 'GET', '/v1/sessions')).json().sessions;
    expect(globex.map((s: { session_id: string }) => s.session_id)).toEqual(['list-globex']);
  });

  it("verifies a session from the trail; another org's id is 404; an edited trail is broken", async () => {
    await call('tok-runner', 'POST', '/v1/sessions', { ...SESSION, agent_id: 'v', session_id: 'verify-me' });
    await call('tok-runner', 'POST', '/v1/sessions/verify-me/actions', [
      { name: 'echo', params: { message: 'original' } },
    ]);
    const ok = await call('tok-runner', 'GET', '/v1/sessions/verify-me/verify');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ session_id: 'verify-me', valid: true, problems: [], first_bad: null });
    expect(ok.json().events).toBeGreaterThanOrEqual(4);
    expect(ok.json().head).toMatchObject({
      seq: ok.json().events - 1,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect((await call('tok-globex', 'GET', '/v1/sessions/verify-me/verify')).statusCode).toBe(404);
    expect((await call('tok-bot', 'GET', '/v1/sessions/verify-me/verify')).statusCode).toBe(403);

    // Someone edits the stored message of the echo action's result.
    await h.runtime.audit.flush();
    const file = path.join(dir, 'audit.jsonl');
    const text = await readFile(file, 'utf8');
    expect(text).toContain('original');
    await writeFile(file, text.replaceAll('original', 'forged!!'));
    const broken = (await call('tok-runner', 'GET', '/v1/sessions/verify-me/verify')).json();
    expect(broken).toMatchObject({ valid: false, first_bad: { problem: 'altered' } });
  });

  it('answers bad queries with 400, and a run-only token with 403', async () => {
    for (const query of [
      'state=bogus',
      'limit=0',
      'limit=501',
      'cursor=not-a-cursor',
      'cursor=eyJ4IjoxfQ',
      'other=1',
    ]) {
      const res = await call('tok-runner', 'GET', `/v1/sessions?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code).toBe('invalid_request');
    }
    expect((await call('tok-bot', 'GET', '/v1/sessions')).statusCode).toBe(403);
  });
});
