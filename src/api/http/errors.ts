/**
 * Maps anything a route throws to `{"error": {"code", "message"}}` with the status that
 * src/errors.ts's catalogue gives the code. Fastify's own errors (body too large, bad JSON,
 * wrong content type, rate limit) are translated to catalogue codes first.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, type ErrorCode, type WireError, isErrorCode, toWireError } from '../../errors.ts';
import type { Logger } from '../../log.ts';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

export function toHttpError(err: unknown): { status: number; body: { error: WireError } } {
  const e = err as Partial<FastifyError> & { code?: unknown };
  let wire: WireError;
  if (typeof e?.code === 'string' && FASTIFY_CODES[e.code]) {
    const code = FASTIFY_CODES[e.code]!;
    wire = {
      code,
      message:
        e.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
          ? `the body is not valid JSON: ${e.message}`
          : (e.message ?? ERROR_CATALOGUE[code].message),
    };
  } else if (e?.statusCode === 429) {
    wire = { code: 'rate_limited', message: e.message ?? ERROR_CATALOGUE.rate_limited.message };
  } else if (isErrorCode(e?.code)) {
    wire = toWireError(err);
  } else if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    wire = { code: 'invalid_request', message: e.message ?? 'bad request' };
  } else {
    wire = toWireError(err);
  }
  // Issues carry the client's own input back; keep the answer to code and message.
  return {
    status: ERROR_CATALOGUE[wire.code].status,
    body: { error: { code: wire.code, message: wire.message } },
  };
}

/**
 * Errors Node's HTTP parser raises before a request reaches fastify: a request not received
 * within its deadline (a client trickling bytes), headers too large, bytes that are not HTTP.
 * Answered in the API's error format, then the socket is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const wire: WireError =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? { code: 'request_timeout', message: 'the request was not received within REQUEST_TIMEOUT_SECONDS' }
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? { code: 'invalid_request', message: 'the request headers are too large' }
        : { code: 'invalid_request', message: 'the request is not valid HTTP' };
  // As Node does by default: only a socket whose response has not begun can still carry one.
  const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const status = ERROR_CATALOGUE[wire.code].status;
    const body = JSON.stringify({ error: wire });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  (socket as Socket).destroySoon();
}

export function errorHandler(log: Logger) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500)
      log.error({ err, route: request.routeOptions.url, code: body.error.code }, 'request failed');
    if (status === 429 && (err as { headers?: Record<string, string> }).headers) {
      reply.headers((err as { headers: Record<string, string> }).headers);
    }
    if (body.error.code === 'payload_too_large') {
      // Fastify asks to close the socket after a body it will not read. Closed while the client
      // is still writing, the socket is reset and the client sees EPIPE instead of this answer
      // (issue 15). Kept open, Node reads and discards the rest of the body (bounded by the
      // request deadline, REQUEST_TIMEOUT_SECONDS) and the client reads the 413.
      reply.removeHeader('connection');
      request.raw.resume();
    }
    return reply.status(status).send(body);
  };
}
