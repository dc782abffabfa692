/**
 * The HTTP API's contract: routes, bodies validated with clear codes and statuses, bearer
 * tokens mapped to orgs (a token never sees another org's sessions or audit events).
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, auth, startHarness } from './api-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ body_limit_bytes: 4096 });
});
afterAll(async () => h?.close());

const sessionBody = (org = 'acme', extra: Record<string, unknown> = {}) => ({
  org_id: org,
  user_id: 'alice',
  agent_id: 'agent-1',
  tools: ['echo', 'delete_file', 'write_file'],
  ...extra,
});

async function createSession(token: string, org: string, extra: Record<string, unknown> = {}) {
  const res = await h.api.inject({
    method: 'POST',
    url: '/v1/sessions',
    headers: auth(token),
    payload: sessionBody(org, extra),
  });
  expect(res.statusCode).toBe(201);
  return res.json() as { session_id: string; state: string; capabilities: Array<{ name: string }> };
}

describe('sessions over HTTP', () => {
  it('creates an external session, runs a batch of actions and reports its state', async () => {
    const created = await createSession('tok-acme', 'acme');
    expect(created.state).toBe('running');
    expect(created.capabilities.map((c) => c.name).sort()).toEqual(['delete_file', 'echo', 'write_file']);

    const run = await h.api.inject({
      method: 'POST',
      url: `/v1/sessions/${created.session_id}/actions`,
      headers: auth('tok-acme'),
      payload: [
        { id: 'a1', name: 'echo', params: { message: 'hi' } },
        { name: 'echo', params: { message: 7 } },
      ],
    });
    expect(run.statusCode).toBe(200);
    const { results } = run.json();
    expect(results[0]).toMatchObject({
      action_id: 'a1',
      name: 'echo',
      success: true,
      result: { message: 'hi' },
    });
    expect(results[1]).toMatchObject({ success: false, error: { code: 'invalid_params' } });

    const status = await h.api.inject({
      url: `/v1/sessions/${created.session_id}`,
      headers: auth('tok-acme'),
    });
    expect(status.json()).toMatchObject({ state: 'running', iteration: 1 });

    const cancelled = await h.api.inject({
      method: 'DELETE',
      url: `/v1/sessions/${created.session_id}`,
      headers: auth('tok-acme'),
    });
    expect(cancelled.json().state).toBe('cancelled');
    const after = await h.api.inject({
      method: 'POST',
      url: `/v1/sessions/${created.session_id}/actions`,
      headers: auth('tok-acme'),
      payload: { actions: [{ name: 'echo', params: { message: 'late' } }] },
    });
    expect(after.statusCode).toBe(409);
    expect(after.json().error.code).toBe('session_not_active');
  });

  it('runs a scripted session in the background; a high-risk action waits until approved over the API', async () => {
    const created = await createSession('tok-acme', 'acme', {
      planner: {
        type: 'scripted',
        steps: [
          [{ name: 'write_file', params: { path: 'x.txt', content: 'x' } }],
          [{ id: 'del-1', name: 'delete_file', params: { path: 'x.txt' } }],
        ],
      },
    });
    let status: { state: string; pending_approvals: Array<{ action_id: string }> } | undefined;
    for (let i = 0; i < 100; i++) {
      status = (
        await h.api.inject({ url: `/v1/sessions/${created.session_id}`, headers: auth('tok-acme') })
      ).json();
      if (status?.state === 'waiting_approval') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status?.pending_approvals.map((a) => a.action_id)).toEqual(['del-1']);
    const wrong = await h.api.inject({
      method: 'POST',
      url: `/v1/sessions/${created.session_id}/approvals/nope`,
      headers: auth('tok-acme'),
      payload: { granted: true },
    });
    expect(wrong.statusCode).toBe(404);
    expect(wrong.json().error.code).toBe('approval_not_found');
    const ok = await h.api.inject({
      method: 'POST',
      url: `/v1/sessions/${created.session_id}/approvals/del-1`,
      headers: auth('tok-acme'),
      payload: { granted: true, reason: 'looks fine' },
    });
    expect(ok.statusCode).toBe(200);
    for (let i = 0; i < 100 && status?.state !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      status = (
        await h.api.inject({ url: `/v1/sessions/${created.session_id}`, headers: auth('tok-acme') })
      ).json();
    }
    expect(status?.state).toBe('completed');
    const granted = await h.api.inject({
      url: `/v1/audit/events?session_id=${created.session_id}&event_type=approval_granted`,
      headers: auth('tok-acme'),
    });
    expect(granted.json().events[0]).toMatchObject({
      approval_granted: true,
      metadata: { reason: 'looks fine' },
    });
  });
});

describe('tokens and orgs', () => {
  it('asks for a bearer token (401) and refuses unknown ones', async () => {
    const none = await h.api.inject({ method: 'POST', url: '/v1/sessions', payload: sessionBody() });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({
      error: { code: 'unauthorized', message: expect.stringContaining('Bearer') },
    });
    const bad = await h.api.inject({ url: '/v1/audit/count', headers: auth('tok-nope') });
    expect(bad.statusCode).toBe(401);
    // The token is checked before the body is read: a stranger's malformed body gets 401, not 400.
    const unread = await h.api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { ...auth('tok-nope'), 'content-type': 'application/json' },
      payload: '{"org_id": ',
    });
    expect(unread.statusCode).toBe(401);
  });

  it('runs action batches that arrive together, each answered with its own results', async () => {
    const sessions = await Promise.all([
      createSession('tok-acme', 'acme'),
      createSession('tok-acme', 'acme'),
    ]);
    // Sent in the same tick, so they reach the supervisor in the same turn of the event loop.
    const answers = await Promise.all(
      sessions.flatMap(({ session_id }, i) =>
        [0, 1].map((k) =>
          h.api.inject({
            method: 'POST',
            url: `/v1/sessions/${session_id}/actions`,
            headers: auth('tok-acme'),
            payload: [{ name: 'echo', params: { message: `s${i}-${k}` } }],
          }),
        ),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
    expect(answers.map((a) => a.json().results[0].result.message)).toEqual(['s0-0', 's0-1', 's1-0', 's1-1']);
  });

  it('refuses to start a session for another org (403)', async () => {
    const res = await h.api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: auth('tok-globex'),
      payload: sessionBody('acme'),
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('forbidden');
  });

  it("never shows one org's sessions or audit events to another org's token", async () => {
    const acme = await createSession('tok-acme', 'acme');
    await h.api.inject({
      method: 'POST',
      url: `/v1/sessions/${acme.session_id}/actions`,
      headers: auth('tok-acme'),
      payload: [{ name: 'echo', params: { message: 'secret plans' } }],
    });
    const globex = await createSession('tok-globex', 'globex');

    for (const [method, url, payload] of [
      ['GET', `/v1/sessions/${acme.session_id}`, undefined],
      ['POST', `/v1/sessions/${acme.session_id}/actions`, [{ name: 'echo', params: { message: 'x' } }]],
      ['POST', `/v1/sessions/${acme.session_id}/approvals/a`, { granted: true }],
      ['DELETE', `/v1/sessions/${acme.session_id}`, undefined],
    ] as const) {
      const res = await h.api.inject({
        method,
        url,
        headers: auth('tok-globex'),
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code).toBe('session_not_found');
    }

    const byGlobex = await h.api.inject({
      url: `/v1/audit/events?session_id=${acme.session_id}`,
      headers: auth('tok-globex'),
    });
    expect(byGlobex.json().events).toEqual([]);
    const allGlobex = await h.api.inject({
      url: '/v1/audit/events?limit=10000',
      headers: auth('tok-globex'),
    });
    const orgs = new Set((allGlobex.json().events as Array<{ org_id: string }>).map((e) => e.org_id));
    expect([...orgs]).toEqual(['globex']);
    expect(JSON.stringify(allGlobex.json())).not.toContain('secret plans');
    expect(
      (
        await h.api.inject({
          url: `/v1/audit/count?session_id=${globex.session_id}`,
          headers: auth('tok-globex'),
        })
      ).json().count,
    ).toBeGreaterThan(0);
    const named = await h.api.inject({ url: '/v1/audit/count?org_id=acme', headers: auth('tok-globex') });
    expect(named.statusCode).toBe(403);
    const own = await h.api.inject({
      url: `/v1/audit/count?session_id=${acme.session_id}`,
      headers: auth('tok-acme'),
    });
    expect(own.json().count).toBeGreaterThanOrEqual(3);
  });
});

describe('bad requests get a clear code and the right 4xx', () => {
  const cases: Array<[string, InjectOptions, number, string, string?]> = [
    [
      'a body that is not JSON',
      {
        method: 'POST',
        url: '/v1/sessions',
        headers: { ...auth('tok-acme'), 'content-type': 'application/json' },
        payload: '{"org_id": ',
      },
      400,
      'invalid_request',
      'not valid JSON',
    ],
    [
      'a missing field',
      {
        method: 'POST',
        url: '/v1/sessions',
        headers: auth('tok-acme'),
        payload: { org_id: 'acme', user_id: 'u' },
      },
      400,
      'invalid_request',
      'agent_id',
    ],
    [
      'a field of the wrong type',
      {
        method: 'POST',
        url: '/v1/sessions',
        headers: auth('tok-acme'),
        payload: { ...sessionBody(), tools: 'echo' },
      },
      400,
      'invalid_request',
      'tools',
    ],
    [
      'an unknown field',
      {
        method: 'POST',
        url: '/v1/sessions',
        headers: auth('tok-acme'),
        payload: { ...sessionBody(), colour: 'red' },
      },
      400,
      'invalid_request',
      'colour',
    ],
    [
      'an unknown planner',
      {
        method: 'POST',
        url: '/v1/sessions',
        headers: auth('tok-acme'),
        payload: { ...sessionBody(), planner: { type: 'magic' } },
      },
      400,
      'invalid_request',
      'planner',
    ],
    [
      'a body over the size limit',
      {
        method: 'POST',
        url: '/v1/sessions',
        headers: auth('tok-acme'),
        payload: { ...sessionBody(), task: 'x'.repeat(5000) },
      },
      413,
      'payload_too_large',
    ],
    [
      'a text/plain body',
      {
        method: 'POST',
        url: '/v1/sessions',
        headers: { ...auth('tok-acme'), 'content-type': 'text/plain' },
        payload: 'hello',
      },
      415,
      'unsupported_media_type',
    ],
    [
      'an empty action batch',
      { method: 'POST', url: '/v1/sessions/whatever/actions', headers: auth('tok-acme'), payload: [] },
      404,
      'session_not_found',
    ],
    [
      'a non-numeric limit',
      { method: 'GET', url: '/v1/audit/events?limit=ten', headers: auth('tok-acme') },
      400,
      'invalid_request',
      'limit',
    ],
    [
      'an unknown event type',
      { method: 'GET', url: '/v1/audit/events?event_type=action_exploded', headers: auth('tok-acme') },
      400,
      'invalid_request',
      'event_type',
    ],
    [
      'a bad timestamp',
      { method: 'GET', url: '/v1/audit/count?since=yesterday', headers: auth('tok-acme') },
      400,
      'invalid_request',
      'since',
    ],
    [
      'an unknown query parameter',
      { method: 'GET', url: '/v1/audit/count?colour=red', headers: auth('tok-acme') },
      400,
      'invalid_request',
      'colour',
    ],
    [
      'an unknown route',
      { method: 'GET', url: '/v1/nothing', headers: auth('tok-acme') },
      404,
      'route_not_found',
    ],
    [
      'an unknown session',
      { method: 'GET', url: '/v1/sessions/no-such-id', headers: auth('tok-acme') },
      404,
      'session_not_found',
    ],
  ];
  it.each(cases)('%s', async (_name, request, status, code, mentions) => {
    const res = await h.api.inject(request);
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe('string');
    if (mentions) expect(body.error.message).toContain(mentions);
  });

  it('refuses an empty or malformed action batch and a malformed approval', async () => {
    const { session_id } = await createSession('tok-acme', 'acme');
    for (const payload of [[], [{ params: {} }], { actions: 'echo' }]) {
      const res = await h.api.inject({
        method: 'POST',
        url: `/v1/sessions/${session_id}/actions`,
        headers: auth('tok-acme'),
        payload,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_request');
    }
    const approval = await h.api.inject({
      method: 'POST',
      url: `/v1/sessions/${session_id}/approvals/x`,
      headers: auth('tok-acme'),
      payload: { granted: 'yes' },
    });
    expect(approval.statusCode).toBe(400);
    expect(approval.json().error.message).toContain('granted');
  });
});

describe('draining', () => {
  it('refuses new sessions with runtime_stopping (503) and turns /health to 503, while status calls still work', async () => {
    const { session_id } = await createSession('tok-acme', 'acme');
    h.state.draining = true;
    try {
      const res = await h.api.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: auth('tok-acme'),
        payload: sessionBody(),
      });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('runtime_stopping');
      expect(res.headers.connection).toBe('close');
      const health = await h.admin.inject({ url: '/health' });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toMatchObject({
        status: 'unhealthy',
        components: { daemon: { status: 'unhealthy' } },
      });
      const status = await h.api.inject({ url: `/v1/sessions/${session_id}`, headers: auth('tok-acme') });
      expect(status.statusCode).toBe(200);
    } finally {
      h.state.draining = false;
    }
  });
});
