import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HTTP_RESPONSE_MAX_BYTES, httpRequestTool } from '../../../../src/capabilities/tools/http-request.ts';
import { makeSandbox, type TempSandbox } from './tool-context.ts';

interface LocalServer {
  server: Server;
  port: number;
  /** every request the server saw, as "METHOD /path" */
  seen: string[];
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<LocalServer> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => resolve(body));
  });
}

describe('http_request', () => {
  let sandbox: TempSandbox;
  let local: LocalServer;
  let other: LocalServer;

  beforeEach(async () => {
    sandbox = await makeSandbox();
    local = await listen(async (req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `http://localhost:${other.port}/landing` }).end();
      } else if (req.url === '/huge') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(HTTP_RESPONSE_MAX_BYTES + 1, 0x61));
      } else {
        const body = await readBody(req);
        res.writeHead(201, {
          'content-type': 'application/json',
          'x-echo-header': req.headers['x-test'] ?? '',
        });
        res.end(JSON.stringify({ method: req.method, url: req.url, body }));
      }
    });
    other = await listen((_req, res) => res.end('should never be reached'));
  });
  afterEach(async () => {
    await close(local.server);
    await close(other.server);
    await sandbox.cleanup();
  });

  it('GETs from an allowed host and returns status, headers and body', async () => {
    const ctx = sandbox.ctx({ httpAllowedHosts: ['127.0.0.1'] });
    const result = (await httpRequestTool.run(
      { url: `http://127.0.0.1:${local.port}/hello?x=1`, headers: { 'X-Test': 'yes' } },
      ctx,
    )) as { status: number; headers: Record<string, string>; body: string };
    expect(result.status).toBe(201);
    expect(result.headers['content-type']).toBe('application/json');
    expect(result.headers['x-echo-header']).toBe('yes');
    expect(JSON.parse(result.body)).toEqual({ method: 'GET', url: '/hello?x=1', body: '' });
  });

  it('sends a method and a body, with the allow-list entry naming host:port', async () => {
    const ctx = sandbox.ctx({ httpAllowedHosts: [`127.0.0.1:${local.port}`] });
    const result = (await httpRequestTool.run(
      { url: `http://127.0.0.1:${local.port}/items`, method: 'POST', body: '{"name":"ünï 🚀"}' },
      ctx,
    )) as { body: string };
    expect(JSON.parse(result.body)).toEqual({ method: 'POST', url: '/items', body: '{"name":"ünï 🚀"}' });
  });

  it('refuses a host that is not allowed, naming it, and never contacts it', async () => {
    const ctx = sandbox.ctx({ httpAllowedHosts: ['example.com', `127.0.0.1:${local.port + 1}`] });
    await expect(httpRequestTool.run({ url: `http://127.0.0.1:${local.port}/` }, ctx)).rejects.toMatchObject({
      code: 'host_not_allowed',
      message: expect.stringContaining(`127.0.0.1:${local.port}`),
    });
    expect(local.seen).toEqual([]);
  });

  it('returns a redirect as-is instead of following it to a host that is not allowed', async () => {
    const ctx = sandbox.ctx({ httpAllowedHosts: ['127.0.0.1'] });
    const result = (await httpRequestTool.run({ url: `http://127.0.0.1:${local.port}/redirect` }, ctx)) as {
      status: number;
      headers: Record<string, string>;
    };
    expect(result.status).toBe(302);
    expect(result.headers['location']).toBe(`http://localhost:${other.port}/landing`);
    expect(other.seen).toEqual([]);
  });

  it('refuses a response body over 5 MiB with tool_error', async () => {
    const ctx = sandbox.ctx({ httpAllowedHosts: ['127.0.0.1'] });
    await expect(
      httpRequestTool.run({ url: `http://127.0.0.1:${local.port}/huge` }, ctx),
    ).rejects.toMatchObject({
      code: 'tool_error',
      message: expect.stringContaining('5 MiB'),
    });
  });

  it('reports a network failure as tool_error', async () => {
    const closed = await listen(() => {});
    const port = closed.port;
    await close(closed.server);
    const ctx = sandbox.ctx({ httpAllowedHosts: ['127.0.0.1'] });
    await expect(httpRequestTool.run({ url: `http://127.0.0.1:${port}/` }, ctx)).rejects.toMatchObject({
      code: 'tool_error',
    });
  });

  it('rejects with action_cancelled when the signal aborts mid-request', async () => {
    const hanging = await listen(() => {}); // never answers
    try {
      const controller = new AbortController();
      const ctx = sandbox.ctx({ httpAllowedHosts: ['127.0.0.1'], signal: controller.signal });
      const pending = httpRequestTool.run({ url: `http://127.0.0.1:${hanging.port}/` }, ctx);
      setTimeout(() => controller.abort(), 50);
      await expect(pending).rejects.toMatchObject({ code: 'action_cancelled' });
    } finally {
      await close(hanging.server);
    }
  });

  it('refuses non-http schemes, bad URLs, unknown methods and a body on GET', async () => {
    const ctx = sandbox.ctx({ httpAllowedHosts: ['127.0.0.1'] });
    const bad = [
      { url: 'file:///etc/passwd' },
      { url: 'ftp://127.0.0.1/' },
      { url: 'not a url' },
      { url: `http://127.0.0.1:${local.port}/`, method: 'TRACE' },
      { url: `http://127.0.0.1:${local.port}/`, body: 'x' },
      { url: `http://127.0.0.1:${local.port}/`, headers: { 'x-n': 1 } },
    ];
    for (const params of bad) {
      await expect(httpRequestTool.run(params, ctx)).rejects.toMatchObject({ code: 'invalid_params' });
    }
    expect(local.seen).toEqual([]);
  });
});
