/**
 * Issue 18: webhooks from the config deliver stored audit events to the operator's endpoints,
 * signed the Standard Webhooks way (checked here by a receiver that computes the signature on
 * its own), retried with backoff, filtered by type and org, counted in /metrics, and never in
 * the way of a session when an endpoint is down.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { createLogger } from '../../src/log.ts';
import { EventHub } from '../../src/review/event-hub.ts';
import { type DeliveryOutcome, WebhookDispatcher } from '../../src/review/webhooks.ts';
import { makeChain } from '../helpers/audit-events.ts';
import { apiCaller, auth, type Harness, startHarness } from '../unit/api/api-harness.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Received {
  id: string;
  timestamp: number;
  body: { type: string; timestamp: string; data: AuditEvent };
}

/** A receiver as a webhook consumer writes it: verifies every request, fails the first `failFirst` attempts of each id. */
async function receiver(secret: string, failFirst: number) {
  const accepted: Received[] = [];
  const attempts = new Map<string, number>();
  const rejectedSignatures: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const timestamp = Number(req.headers['webhook-timestamp']);
      const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
        .update(`${id}.${timestamp}.${body}`)
        .digest();
      const given = String(req.headers['webhook-signature'] ?? '')
        .split(' ')
        .filter((s) => s.startsWith('v1,'))
        .map((s) => Buffer.from(s.slice(3), 'base64'));
      const valid = given.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected));
      if (!valid || Math.abs(Date.now() / 1000 - timestamp) > 300) {
        rejectedSignatures.push(id);
        res.writeHead(401).end();
        return;
      }
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (n <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      accepted.push({ id, timestamp, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  return { server, url, accepted, attempts, rejectedSignatures };
}

async function until(done: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('issue-18: webhooks', () => {
  let h: Harness;
  let hook: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    hook = await receiver(SECRET, 2);
    h = await startHarness(
      { api_tokens: { 'tok-acme': 'acme', 'tok-globex': 'globex' } },
      {
        webhooks: [
          {
            url: hook.url,
            event_types: ['session_started', 'session_ended'],
            secret: SECRET,
            orgs: ['acme'],
          },
        ],
      },
    );
  });
  afterAll(async () => {
    await h.close();
    hook.server.close();
  });

  const call = apiCaller(() => h.api);

  it('delivers the types and orgs it asks for, signed, retried until the receiver takes them, and counts them', async () => {
    const body = { user_id: 'u', agent_id: 'a', tools: ['echo'], planner: { type: 'external' } };
    await call('tok-acme', 'POST', '/v1/sessions', { ...body, org_id: 'acme', session_id: 'hooked' });
    await call('tok-globex', 'POST', '/v1/sessions', { ...body, org_id: 'globex', session_id: 'not-hooked' });
    await call('tok-acme', 'DELETE', '/v1/sessions/hooked');
    await call('tok-globex', 'DELETE', '/v1/sessions/not-hooked');
    await until(() => hook.accepted.length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.rejectedSignatures).toEqual([]);
    expect(hook.accepted.map((r) => [r.body.type, r.body.data.org_id, r.body.data.session_id])).toEqual([
      ['audit.session_started', 'acme', 'hooked'],
      ['audit.session_ended', 'acme', 'hooked'],
    ]);
    // The webhook-id is the event id, the same on each of its three attempts.
    for (const r of hook.accepted) {
      expect(r.id).toBe(r.body.data.event_id);
      expect(hook.attempts.get(r.id)).toBe(3);
    }
    const metrics = (await h.admin.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/runtime_webhook_deliveries_total\{outcome="delivered"\} 2/);
    expect(metrics).toMatch(/runtime_webhook_deliveries_total\{outcome="retried"\} 4/);
    expect(metrics).toMatch(/runtime_webhook_pending 0/);
  });

  it('a script driven by the approval_requested webhook decides through the API: the same events as any decision', async () => {
    // The script: verify the delivery, then approve the approval it names (its id is the event id).
    const script = await receiver(SECRET, 0);
    script.server.removeAllListeners('request');
    const decided: string[] = [];
    script.server.on('request', (req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', async () => {
        const id = String(req.headers['webhook-id']);
        const ts = Number(req.headers['webhook-timestamp']);
        const sig = createHmac('sha256', Buffer.from(SECRET.slice(6), 'base64'))
          .update(`${id}.${ts}.${body}`)
          .digest('base64');
        if (req.headers['webhook-signature'] !== `v1,${sig}`) return void res.writeHead(401).end();
        res.writeHead(204).end();
        const res2 = await call2('tok-approver', 'POST', `/v1/approvals/${id}`, {
          granted: true,
          reason: 'policy script',
        });
        decided.push(`${res2.statusCode}`);
      });
    });
    const h2 = await startHarness(
      { api_tokens: { 'tok-acme': 'acme', 'tok-approver': 'acme:approver-script:approve+read' } },
      { webhooks: [{ url: script.url, event_types: ['approval_requested'], secret: SECRET }] },
    );
    const call2 = (token: string, method: 'POST', url: string, payload: unknown) =>
      h2.api.inject({
        method,
        url,
        headers: { ...auth(token), 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });
    const session = {
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'a',
      session_id: 'scripted-approval',
      tools: ['write_file', 'delete_file'],
      planner: { type: 'external' },
    };
    try {
      await call2('tok-acme', 'POST', '/v1/sessions', session);
      await call2('tok-acme', 'POST', '/v1/sessions/scripted-approval/actions', [
        { name: 'write_file', params: { path: 'f.txt', content: 'x' } },
      ]);
      // The webhook reaches the script while this waits; the script's decision lets it finish.
      const answer = await call2('tok-acme', 'POST', '/v1/sessions/scripted-approval/actions', [
        { id: 'del-s', name: 'delete_file', params: { path: 'f.txt' } },
      ]);
      expect(answer.json().results[0]).toMatchObject({ action_id: 'del-s', success: true });
      // The script hears its answer just after the action it unblocked finished.
      await until(() => decided.length > 0);
      expect(decided).toEqual(['200']);
      await h2.runtime.audit.flush();
      const story = (
        await h2.runtime.audit.query({ org_id: 'acme', session_id: 'scripted-approval', limit: 100 })
      )
        .filter((e) => e.action_id === 'del-s')
        .map((e) => e.event_type);
      // The same story as a decision in the console or through the API (tests/regressions/issue-18-approvals-inbox.test.ts).
      expect(story).toEqual([
        'capability_validated',
        'approval_requested',
        'approval_granted',
        'action_started',
        'action_completed',
      ]);
      const [granted] = await h2.runtime.audit.query({
        org_id: 'acme',
        session_id: 'scripted-approval',
        event_types: ['approval_granted'],
      });
      expect(granted!.metadata).toMatchObject({ decided_by: 'approver-script', reason: 'policy script' });
    } finally {
      await h2.close();
      script.server.close();
    }
  });

  it('refuses a malformed webhook at start, naming the key', () => {
    const base = { url: 'http://127.0.0.1:1/x', event_types: ['session_ended'] };
    const load = (webhooks: unknown) => () =>
      loadConfig({ env: { ENVIRONMENT: 'test' }, overrides: { webhooks } as never });
    expect(load([{ ...base, secret: 'not-a-secret' }])).toThrow(/webhooks\.0\.secret.*whsec_/);
    expect(load([{ ...base, secret: `whsec_${randomBytes(8).toString('base64')}` }])).toThrow(
      /at least 24 bytes/,
    );
    expect(load([{ ...base, url: 'ftp://x', secret: SECRET }])).toThrow(/webhooks\.0\.url/);
    expect(load([{ ...base, event_types: ['nope'], secret: SECRET }])).toThrow(/webhooks\.0\.event_types/);
  });
});

describe('webhook dispatcher: an endpoint that is down', () => {
  it('gives up after its attempts, counts the failure, and never makes the publisher wait', async () => {
    const counts: Record<DeliveryOutcome, number> = { delivered: 0, failed: 0, retried: 0 };
    const hub = new EventHub(() => {});
    const dispatcher = new WebhookDispatcher(
      // Nothing listens on port 9 of loopback: every attempt is refused.
      [{ url: 'http://127.0.0.1:9/hook', event_types: ['action_completed'], secret: SECRET }],
      (outcome) => counts[outcome]++,
      createLogger({ log_level: 'silent' }),
      { maxAttempts: 3, baseDelayMs: 5, maxQueue: 2 },
    );
    dispatcher.start(hub);
    const events = makeChain('down', 6, { at: () => ({ event_type: 'action_completed' }) });
    const started = performance.now();
    hub.publish(events);
    // publish() returns at once: delivery happens later.
    expect(performance.now() - started).toBeLessThan(50);
    // The queue holds 2: the oldest of the rest were dropped (failed) at once.
    expect(counts.failed).toBe(3);
    await until(() => counts.failed === 6);
    expect(counts).toEqual({ delivered: 0, failed: 6, retried: 6 });
    expect(dispatcher.pending).toBe(0);
    dispatcher.stop();
  });
});
