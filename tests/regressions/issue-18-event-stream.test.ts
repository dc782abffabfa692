/**
 * Issue 18: GET /v1/events streams the org's audit events as Server-Sent Events once they are
 * stored, over a real socket: org-scoped, filtered, resumable with Last-Event-ID (nothing
 * missed, nothing twice), and a subscriber that does not read is disconnected without holding
 * back sessions, the audit writer or the other subscribers.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.ts';
import { apiCaller, auth, type Harness, startHarness } from '../unit/api/api-harness.ts';

const TOKENS = {
  'tok-acme': 'acme:reader:run+read',
  'tok-bot': 'acme:bot:run',
  'tok-globex': 'globex:gl:run+read',
};
const SESSION = { user_id: 'u', agent_id: 'a', tools: ['echo'], planner: { type: 'external' } };

interface Stream {
  events: AuditEvent[];
  ids: string[];
  status: number;
  until(done: (events: AuditEvent[]) => boolean, ms?: number): Promise<void>;
  close(): void;
}

describe('issue-18: the live event stream', () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await startHarness({ api_tokens: TOKENS });
    await h.api.listen({ port: 0, host: '127.0.0.1' });
    port = (h.api.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await h.close();
  });

  function open(token: string | undefined, query = '', lastEventId?: string): Promise<Stream> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: `/v1/events${query ? `?${query}` : ''}`,
          headers: {
            ...(token ? auth(token) : {}),
            ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
          },
        },
        (res: IncomingMessage) => {
          const stream: Stream = {
            events: [],
            ids: [],
            status: res.statusCode ?? 0,
            async until(done, ms = 10_000) {
              const deadline = Date.now() + ms;
              while (!done(stream.events)) {
                if (Date.now() > deadline)
                  throw new Error(`stream: condition not met; got ${stream.events.length} events`);
                await new Promise((r) => setTimeout(r, 10));
              }
            },
            close: () => req.destroy(),
          };
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let end = buffer.indexOf('\n\n');
            while (end >= 0) {
              const record = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const id = /^id: (.*)$/m.exec(record)?.[1];
              const data = /^data: (.*)$/m.exec(record)?.[1];
              if (id && data) {
                stream.ids.push(id);
                stream.events.push(JSON.parse(data) as AuditEvent);
              } else if (stream.status !== 200 && data === undefined) {
                stream.events.push(JSON.parse(record) as AuditEvent);
              }
              end = buffer.indexOf('\n\n');
            }
          });
          res.on('error', () => {});
          resolve(stream);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const call = apiCaller(() => h.api);
  const echo = (token: string, id: string, message: string) =>
    call(token, 'POST', `/v1/sessions/${id}/actions`, [{ name: 'echo', params: { message } }]);

  it("streams the org's stored events live, and nothing of another org", async () => {
    const acme = await open('tok-acme');
    const globex = await open('tok-globex');
    expect(acme.status).toBe(200);
    await call('tok-acme', 'POST', '/v1/sessions', { ...SESSION, org_id: 'acme', session_id: 'live-a' });
    await call('tok-globex', 'POST', '/v1/sessions', { ...SESSION, org_id: 'globex', session_id: 'live-g' });
    await echo('tok-acme', 'live-a', 'hello acme');
    await echo('tok-globex', 'live-g', 'hello globex');
    await acme.until((events) => events.some((e) => e.event_type === 'action_completed'));
    await globex.until((events) => events.some((e) => e.event_type === 'action_completed'));
    expect(new Set(acme.events.map((e) => e.org_id))).toEqual(new Set(['acme']));
    expect(new Set(globex.events.map((e) => e.org_id))).toEqual(new Set(['globex']));
    expect(acme.events.map((e) => e.event_type)).toEqual(
      expect.arrayContaining(['session_started', 'action_started', 'action_completed']),
    );
    expect(acme.ids).toEqual(acme.events.map((e) => e.event_id));
    acme.close();
    globex.close();
  });

  it('filters by session and event type', async () => {
    await call('tok-acme', 'POST', '/v1/sessions', { ...SESSION, org_id: 'acme', session_id: 'filter-1' });
    await call('tok-acme', 'POST', '/v1/sessions', { ...SESSION, org_id: 'acme', session_id: 'filter-2' });
    const only = await open('tok-acme', 'session_id=filter-2&event_type=action_completed');
    await echo('tok-acme', 'filter-1', 'one');
    await echo('tok-acme', 'filter-2', 'two');
    await only.until((events) => events.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(only.events.map((e) => [e.session_id, e.event_type])).toEqual([['filter-2', 'action_completed']]);
    only.close();
  });

  it('resumes after Last-Event-ID with exactly the events stored after it', async () => {
    await call('tok-acme', 'POST', '/v1/sessions', { ...SESSION, org_id: 'acme', session_id: 'resume-1' });
    for (let i = 0; i < 5; i++) await echo('tok-acme', 'resume-1', `before ${i}`);
    await h.runtime.audit.flush();
    const stored = await h.runtime.audit.query({ org_id: 'acme', session_id: 'resume-1', limit: 1000 });
    const cut = stored[4]!;
    const resumed = await open('tok-acme', 'session_id=resume-1', cut.event_id);
    for (let i = 0; i < 3; i++) await echo('tok-acme', 'resume-1', `after ${i}`);
    await h.runtime.audit.flush();
    const all = await h.runtime.audit.query({ org_id: 'acme', session_id: 'resume-1', limit: 1000 });
    const expected = all.slice(5).map((e) => e.event_id);
    await resumed.until((events) => events.length >= expected.length);
    await new Promise((r) => setTimeout(r, 200));
    expect(resumed.ids).toEqual(expected);
    resumed.close();
  });

  it('refuses bad requests before streaming: 401, 403, 400', async () => {
    expect((await open(undefined)).status).toBe(401);
    expect((await open('tok-bot')).status).toBe(403);
    expect((await open('tok-acme', 'event_type=bogus')).status).toBe(400);
    expect((await open('tok-acme', 'other=1')).status).toBe(400);
    expect((await open('tok-acme', '', 'no-such-event')).status).toBe(400);
    const [globexEvent] = await h.runtime.audit.query({ org_id: 'globex', limit: 1 });
    expect((await open('tok-acme', '', globexEvent!.event_id)).status).toBe(400);
  });

  it('disconnects a subscriber that does not read, while sessions, the audit writer and others go on', async () => {
    const steady = await open('tok-acme', 'session_id=flood');
    const before = h.runtime.events.size;
    // A client that sends its request and never reads a byte.
    const stuck = connect(port, '127.0.0.1');
    stuck.on('error', () => {});
    stuck.write(
      `GET /v1/events?session_id=flood HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-acme\r\n\r\n`,
    );
    stuck.pause();
    await new Promise((r) => setTimeout(r, 200));
    expect(h.runtime.events.size).toBe(before + 1);

    await call('tok-acme', 'POST', '/v1/sessions', {
      ...SESSION,
      org_id: 'acme',
      session_id: 'flood',
      policy: { max_iterations: 1000 },
    });
    const big = 'x'.repeat(16 * 1024);
    let batches = 0;
    while (h.runtime.events.size > before && batches < 60) {
      const res = await call(
        'tok-acme',
        'POST',
        '/v1/sessions/flood/actions',
        Array.from({ length: 50 }, (_, i) => ({
          name: 'echo',
          params: { message: `${batches}-${i}-${big}` },
        })),
      );
      expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
      expect(res.json().results.every((r: { success: boolean }) => r.success)).toBe(true);
      batches++;
    }
    expect(h.runtime.events.size).toBe(before);
    // The reading subscriber got every event of the flood, in order.
    await h.runtime.audit.flush();
    const count = await h.runtime.audit.count({ org_id: 'acme', session_id: 'flood' });
    await steady.until((events) => events.length >= count, 20_000);
    expect(new Set(steady.ids).size).toBe(count);
    stuck.destroy();
    steady.close();
  });
});
