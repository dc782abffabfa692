/**
 * Issue 15, finding 7: a 2–32 MiB body sent by Node's fetch got EPIPE instead of 413 (the socket
 * was closed under the client while it was still writing), and a client trickling bytes held a
 * connection forever. Now the client reads 413 payload_too_large, and a request that does not
 * arrive within HEADERS_TIMEOUT_SECONDS / REQUEST_TIMEOUT_SECONDS is answered 408
 * request_timeout and closed. An action that runs longer than the request deadline is not cut.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type DaemonProcess, startDaemon } from '../e2e/daemon-harness.ts';

const SESSION = {
  org_id: 'acme',
  user_id: 'u',
  agent_id: 'a',
  tools: ['sleep'],
  planner: { type: 'external' },
};

/** Writes `head`, then one more byte every 300 ms; resolves with what the server sent before it closed. */
function trickle(port: number, head: string, byte: string): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const timer = setInterval(() => socket.writable && socket.write(byte), 300);
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server still held the trickling connection after 15 s'));
    }, 15_000);
    socket.on('data', (d) => {
      answer += d;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ answer, ms: Date.now() - started });
    });
    socket.write(head);
  });
}

describe('issue-15: large and slow request bodies', () => {
  let daemon: DaemonProcess;
  let port: number;
  beforeAll(async () => {
    daemon = await startDaemon({
      API_TOKENS: 'tok-acme=acme',
      AUDIT_STORAGE_TYPE: 'memory',
      HEADERS_TIMEOUT_SECONDS: '1',
      REQUEST_TIMEOUT_SECONDS: '2',
    });
    port = Number(new URL(daemon.api).port);
  });
  afterAll(() => daemon?.kill());

  it.each([2, 8, 32])(
    'answers a %i MiB body sent by fetch with 413 payload_too_large (not EPIPE)',
    async (mib) => {
      const body = JSON.stringify({ ...SESSION, metadata: { blob: 'x'.repeat(mib * 1024 * 1024) } });
      const res = await fetch(`${daemon.api}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok-acme', 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    },
  );

  it('answers 408 request_timeout and closes a connection whose headers trickle in', async () => {
    const { answer } = await trickle(port, 'POST /v1/sessions HTTP/1.1\r\nHost: x\r\n', 'X');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"request_timeout"');
  });

  it('answers 408 request_timeout and closes a connection whose body trickles in', async () => {
    const head =
      'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-acme\r\n' +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{';
    const { answer } = await trickle(port, head, ' ');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"request_timeout"');
  });

  it('does not cut an action that runs longer than the request deadline', async () => {
    const created = await call<{ session_id: string }>(
      daemon.api,
      'tok-acme',
      'POST',
      '/v1/sessions',
      SESSION,
    );
    expect(created.status).toBe(201);
    const res = await call<{ results: Array<{ success: boolean }> }>(
      daemon.api,
      'tok-acme',
      'POST',
      `/v1/sessions/${created.body.session_id}/actions`,
      [{ name: 'sleep', params: { ms: 3000 } }],
    );
    expect(res.status).toBe(200);
    expect(res.body.results[0]?.success).toBe(true);
    expect((await fetch(`${daemon.admin}/health`)).status).toBe(200);
  });
});
