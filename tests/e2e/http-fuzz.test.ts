/**
 * Issue 15: hostile input at every route of the HTTP API. Generated JSON (deep nesting, huge
 * strings, many keys, lone surrogates, NUL, RTL marks, emoji, `__proto__` keys, wrong types),
 * bodies that are not JSON, wrong content types and odd path segments. Every answer must be a
 * success or a well-formed `{"error": {code, message}}` with a 4xx status: never a 500, never a
 * dropped request, and the API still answers /health afterwards.
 *
 * Seeded, so a failure reproduces; add a route (the coming MCP endpoint, say) to ROUTES.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../src/errors.ts';
import { hostile } from '../helpers/hostile.ts';
import { auth, type Harness, startHarness } from '../unit/api/api-harness.ts';

type Method = 'GET' | 'POST' | 'DELETE';
interface Route {
  method: Method;
  /** `:id` and `:action` are filled with generated (sometimes valid) values */
  path: string;
  body: boolean;
}

const ROUTES: Route[] = [
  { method: 'POST', path: '/v1/sessions', body: true },
  { method: 'GET', path: '/v1/sessions/:id', body: false },
  { method: 'POST', path: '/v1/sessions/:id/actions', body: true },
  { method: 'POST', path: '/v1/sessions/:id/approvals/:action', body: true },
  { method: 'DELETE', path: '/v1/sessions/:id', body: false },
  { method: 'GET', path: '/v1/audit/events', body: false },
  { method: 'GET', path: '/v1/audit/count', body: false },
  { method: 'GET', path: '/v1/sessions', body: false },
  { method: 'GET', path: '/v1/sessions/:id/verify', body: false },
  { method: 'GET', path: '/v1/approvals', body: false },
  { method: 'POST', path: '/v1/approvals/:id', body: true },
  { method: 'GET', path: '/console/:id', body: false },
  // GET /v1/events streams until the client leaves: its bad input has its own tests
  // (tests/regressions/issue-18-event-stream.test.ts).
  { method: 'GET', path: '/health', body: false },
];

const odd = fc.constantFrom(
  '\u0000',
  '\uD800',
  '\uDFFF',
  '\u202E',
  '\u2028',
  '🔥',
  '\uFEFF',
  'é',
  '\\',
  '"',
  '%',
  '../',
  '..%2f',
);
const oddText = fc.string({ unit: fc.oneof(odd, fc.string({ minLength: 1, maxLength: 1 })), maxLength: 30 });

/** JSON that storage, schemas and the codec find awkward. */
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostile,
    oddText,
    fc.integer(),
    fc.double(),
    fc.constantFrom(null, true, false, 1e308, -0, Number.MAX_SAFE_INTEGER + 2),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(oddText, fc.constantFrom('__proto__', 'constructor', 'prototype')), tie('value'), {
      maxKeys: 5,
    }),
  ),
})).value;

/** encodeURIComponent, except that a lone surrogate goes out as its raw (invalid UTF-8) bytes. */
function encodeLoose(text: string): string {
  let out = '';
  for (const unit of text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]|[\s\S]/g) ?? []) {
    if (unit.length === 1 && unit >= '\uD800' && unit <= '\uDFFF') {
      const c = unit.charCodeAt(0);
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += encodeURIComponent(unit);
    }
  }
  return out;
}

const nested = (depth: number, leaf: unknown) => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

/** A session request with one part made hostile, or something else entirely. */
const sessionBody = fc.oneof(
  fc.record({
    org_id: fc.oneof(fc.constant('acme'), oddText),
    user_id: fc.oneof(fc.constant('u'), oddText),
    agent_id: fc.oneof(fc.constant('a'), oddText),
    session_id: fc.option(oddText, { nil: undefined }),
    tools: fc.oneof(fc.constant(['echo']), fc.array(oddText, { maxLength: 3 }), hostileJson),
    mcp_servers: fc.option(
      fc.oneof(hostileJson, fc.constant([{ id: 'x', transport: { type: 'stdio', command: '/bin/sh' } }])),
      {
        nil: undefined,
      },
    ),
    planner: fc.oneof(fc.constant({ type: 'external' }), hostileJson),
    metadata: fc.option(
      fc.oneof(
        hostileJson,
        fc.integer({ min: 60, max: 3000 }).map((d) => nested(d, 'x')),
      ),
      {
        nil: undefined,
      },
    ),
  }),
  hostileJson,
);

const actionsBody = fc.oneof(
  fc.array(
    fc.record({
      id: fc.option(oddText, { nil: undefined }),
      name: fc.oneof(fc.constant('echo'), oddText),
      params: hostileJson,
    }),
    {
      maxLength: 4,
    },
  ),
  fc
    .integer({ min: 60, max: 3000 })
    .map((d) => [{ name: 'echo', params: { message: 'x', deep: nested(d, 1) } }]),
  hostileJson,
);

const rawBody = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '[',
    '{"a":',
    'null',
    'true',
    '"str"',
    '{"__proto__": {"polluted": 1}}',
    '\u0000',
    '{"a": 1e309}',
  ),
  fc.string({ maxLength: 200 }),
  fc.integer({ min: 1, max: 200_000 }).map((n) => '['.repeat(n)),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/json; charset=latin1',
  undefined,
);

interface Case {
  route: Route;
  id: string;
  action: string;
  body: { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };
  type: string | undefined;
  query: Record<string, string>;
  token: string;
}

describe('issue-15: fuzzing every HTTP route with hostile input', () => {
  let h: Harness;
  let realSession: string;
  beforeAll(async () => {
    h = await startHarness({ body_limit_bytes: 256 * 1024 }, { mcp: { servers: [] } });
    realSession = (
      await h.runtime.createSession({
        org_id: 'acme',
        user_id: 'u',
        agent_id: 'a',
        tools: ['echo'],
        planner: { type: 'external' },
      })
    ).id;
  });
  afterAll(() => h.close());

  it('answers every request with a success or a well-formed 4xx, and stays up', async () => {
    const caseArb: fc.Arbitrary<Case> = fc
      .record({
        route: fc.constantFrom(...ROUTES),
        id: fc.oneof(
          fc.constant('REAL'),
          oddText.filter((s) => s.length > 0),
        ),
        action: oddText.filter((s) => s.length > 0),
        json: fc.oneof(
          sessionBody,
          actionsBody,
          fc.record({ granted: fc.oneof(fc.boolean(), hostileJson), reason: fc.option(hostileJson) }),
          hostileJson,
        ),
        raw: rawBody,
        useRaw: fc.boolean(),
        type: contentType,
        query: fc.dictionary(
          fc.constantFrom(
            'org_id',
            'session_id',
            'event_type',
            'success',
            'since',
            'until',
            'limit',
            'offset',
            '__proto__',
          ),
          oddText,
          { maxKeys: 4 },
        ),
        token: fc.constantFrom('tok-acme', 'tok-globex', 'nope', ''),
      })
      .map((r) => ({
        route: r.route,
        id: r.id === 'REAL' ? realSession : r.id,
        action: r.action,
        body: r.useRaw ? { kind: 'raw' as const, text: r.raw } : { kind: 'json' as const, value: r.json },
        type: r.type,
        query: r.query,
        token: r.token,
      }));

    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const url =
          c.route.path.replace(':id', encodeLoose(c.id)).replace(':action', encodeLoose(c.action)) +
          (Object.keys(c.query).length ? `?${new URLSearchParams(c.query).toString()}` : '');
        let payload: string | undefined;
        if (c.route.body) {
          payload = c.body.kind === 'raw' ? c.body.text : (JSON.stringify(c.body.value) ?? 'null');
        }
        const res = await h.api.inject({
          method: c.route.method,
          url,
          headers: {
            ...(c.token ? auth(c.token) : {}),
            ...(c.type && payload !== undefined ? { 'content-type': c.type } : {}),
          },
          ...(payload !== undefined ? { payload } : {}),
        });
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        expect(
          res.statusCode,
          `${c.route.method} ${url} → ${res.statusCode} ${res.body.slice(0, 300)}`,
        ).toBeLessThan(500);
        if (res.statusCode >= 400) {
          const body = res.json();
          expect(body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
          expect(Object.keys(ERROR_CATALOGUE)).toContain(body.error.code);
        }
      }),
      { numRuns: 1000, seed: 1515, endOnFailure: true },
    );
    expect((await h.api.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    // The run reached more than the front door: some requests passed auth and schemas.
    expect([...seen.keys()].some((s) => s < 300)).toBe(true);
    expect([...seen.keys()].some((s) => s >= 400)).toBe(true);
  }, 120_000);
});
