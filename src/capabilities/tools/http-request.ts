import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { RuntimeError, errorMessage } from '../../errors.ts';
import { type CheckedAddress, checkedAddress } from './address-policy.ts';
import { requireString } from './params.ts';
import type { BuiltinTool, ToolContext } from './tool.ts';

/** The largest response body http_request returns (5 MiB). */
export const HTTP_RESPONSE_MAX_BYTES = 5 * 1024 * 1024;

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
type Method = (typeof METHODS)[number];

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * `http_request` {url, method?, headers?, body?} → {status, headers, body}: one request to a
 * host on the allow-list. Redirects are returned as-is, never followed, so a listed host
 * cannot bounce the request to an unlisted one.
 */
export const httpRequestTool: BuiltinTool = {
  name: 'http_request',
  description: 'Sends one HTTP(S) request to an allowed host and returns status, headers and body text.',
  version: '1.0.0',
  inputSchema: {
    type: 'object',
    properties: {
      url: { type: 'string', minLength: 1 },
      method: { type: 'string', enum: [...METHODS], default: 'GET' },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: { type: 'string' },
    },
    required: ['url'],
    additionalProperties: false,
  },
  async run(params, ctx) {
    const url = parseUrl(requireString('http_request', params, 'url'));
    assertHostAllowed(url, ctx.httpAllowedHosts);
    const pinned = await checkedAddress(url.hostname, allowedNames(ctx.httpAllowedHosts));
    const method = parseMethod(params['method']);
    const headers = parseHeaders(params['headers']);
    const body = params['body'];
    if (body !== undefined && typeof body !== 'string') {
      throw new RuntimeError('invalid_params', 'http_request: "body" must be a string');
    }
    if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
      throw new RuntimeError('invalid_params', `http_request: a ${method} request cannot have a body`);
    }

    try {
      const res = await sendPinned(url, { method, headers, body, signal: ctx.signal }, pinned);
      return {
        status: res.status,
        headers: collectHeaders(res.headers),
        body: await readCappedText(res),
      };
    } catch (err) {
      throw requestError(err, url, ctx);
    }
  },
};

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RuntimeError('invalid_params', `http_request: "${raw}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RuntimeError(
      'invalid_params',
      `http_request: only http and https URLs are allowed, not ${url.protocol}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new RuntimeError(
      'invalid_params',
      'http_request: credentials in the URL are not allowed; use headers',
    );
  }
  return url;
}

/** An allow-list entry is a host name (any port) or host:port; the URL's default port counts. */
function assertHostAllowed(url: URL, allowed: readonly string[]): void {
  const port = url.port || DEFAULT_PORTS[url.protocol] || '';
  const candidates = new Set([url.hostname, `${url.hostname}:${port}`]);
  if (allowed.some((entry) => candidates.has(entry.trim().toLowerCase()))) return;
  throw new RuntimeError('host_not_allowed', `http_request: host "${url.host}" is not on the allow-list`, {
    host: url.host,
  });
}

/** The allow-list's hosts without ports, lower-case: an address on it is named explicitly. */
function allowedNames(allowed: readonly string[]): Set<string> {
  return new Set(
    allowed.map((entry) => {
      const e = entry.trim().toLowerCase();
      if (e.startsWith('[')) return e.slice(1, e.indexOf(']'));
      // host:port, but not a bare IPv6 address (which has several colons)
      return e.split(':').length === 2 ? e.slice(0, e.indexOf(':')) : e;
    }),
  );
}

/**
 * One request over node:http(s), connected to the address checked above (its own lookup
 * answers with it), so nothing resolves the name a second time. TLS still verifies the
 * certificate against the host name. Redirects are not followed.
 */
function sendPinned(
  url: URL,
  {
    method,
    headers,
    body,
    signal,
  }: { method: Method; headers: Record<string, string>; body: string | undefined; signal: AbortSignal },
  pinned: CheckedAddress,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const lookupPinned: LookupFunction = (_host, options, callback) => {
      if (options.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
      else callback(null, pinned.address, pinned.family);
    };
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      { method, headers, signal, lookup: lookupPinned },
      (res) => {
        const responseHeaders = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        }
        const status = res.statusCode ?? 0;
        const noBody = method === 'HEAD' || status === 204 || status === 205 || status === 304;
        if (noBody) res.resume();
        const stream = noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(stream, { status, headers: responseHeaders }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function parseMethod(value: unknown): Method {
  if (value === undefined) return 'GET';
  const method = typeof value === 'string' ? value.toUpperCase() : value;
  if (!METHODS.includes(method as Method)) {
    throw new RuntimeError('invalid_params', `http_request: "method" must be one of ${METHODS.join(', ')}`);
  }
  return method as Method;
}

function parseHeaders(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RuntimeError('invalid_params', 'http_request: "headers" must be an object of strings');
  }
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new RuntimeError('invalid_params', `http_request: header "${name}" must be a string`);
    }
    headers[name] = v;
  }
  return headers;
}

function collectHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  // Repeated headers (set-cookie) come one by one; keep them all, comma-joined.
  for (const [name, value] of headers) out[name] = name in out ? `${out[name]}, ${value}` : value;
  return out;
}

async function readCappedText(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > HTTP_RESPONSE_MAX_BYTES) {
    await res.body?.cancel();
    throw tooLarge(`Content-Length is ${declared}`);
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > HTTP_RESPONSE_MAX_BYTES) {
      await reader.cancel();
      throw tooLarge(`more than ${HTTP_RESPONSE_MAX_BYTES} bytes arrived`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function tooLarge(detail: string): RuntimeError {
  return new RuntimeError(
    'tool_error',
    `http_request: the response body is over the 5 MiB limit (${detail})`,
  );
}

function requestError(err: unknown, url: URL, ctx: ToolContext): RuntimeError {
  if (err instanceof RuntimeError) return err;
  if (ctx.signal.aborted) return new RuntimeError('action_cancelled', 'http_request was aborted');
  // undici puts the useful part (ECONNREFUSED, ENOTFOUND, …) in `cause`.
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  const message = errorMessage(err);
  return new RuntimeError('tool_error', `http_request to ${url.host} failed: ${message}${cause}`);
}
