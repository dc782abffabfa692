import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { HASHED_FIELDS } from '../../../src/audit/events.ts';
import { canonicalJson, hashEvent, sha256Hex } from '../../../src/audit/hash-chain.ts';

// Trails already stored were hashed by this encoding: a change to it would make every one of
// them fail `audit verify`. These two hashes were computed when the encoding was fixed.
const GOLDEN = {
  event_id: '6f1c0e3a-2b7d-4c1e-9a55-0d2f3b4c5d6e',
  event_type: 'action_completed',
  timestamp: '2026-01-31T23:59:59.999Z',
  org_id: 'org-ü',
  user_id: 'user "quoted"',
  agent_id: 'agent\\back',
  session_id: 'sess\n1',
  severity: 'info',
  message: 'tab\there \u0001 ctrl, emoji 😀, lone \ufffd',
  action_id: 'a-1',
  action_name: 'echo',
  action_params: { z: 1, a: [3, { y: null, b: 'x' }], '10': true, '9': false, nested: { k: 'v' } },
  capability_type: 'tool',
  capability_source: 'builtin',
  capability_version: '1.0.0',
  mcp_server_id: null,
  mcp_server_name: null,
  success: true,
  error_message: null,
  duration_ms: 0.125,
  requires_approval: false,
  approval_granted: null,
  metadata: { result: { message: 'hi', list: [1.5, -0, 1e21] }, error_code: null },
  seq: 7,
  prev_hash: 'ab'.repeat(32),
} as unknown as AuditEvent;

/** The encoding as its definition says: JSON of the fields in HASHED_FIELDS order, keys sorted. */
function byDefinition(event: AuditEvent): string {
  return sha256Hex(`[${HASHED_FIELDS.map((f) => canonicalJson(event[f] ?? null)).join(',')}]`);
}

describe('hashEvent', () => {
  it('hashes as trails already stored were hashed', () => {
    expect(hashEvent(GOLDEN)).toBe('eb5e9e010ab436d326a41f679256a0f47f14f1f4ae54f3f94f32a2d034e2d55b');
    const bare = { ...GOLDEN, action_params: null, metadata: {}, success: null, duration_ms: null, seq: 0 };
    expect(hashEvent(bare as AuditEvent)).toBe('a43b2bd3e33407a10335f64f32606cc9ab4a6b31bcc3210659e1df609e35c867');
  });

  it('is SHA-256 of the canonical JSON of the fields in HASHED_FIELDS order, for any text and JSON', () => {
    const text = fc.string({ unit: 'binary' });
    const nullableText = fc.option(text, { nil: null });
    const event = fc.record({
      event_id: fc.uuid(),
      event_type: text,
      timestamp: text,
      org_id: text,
      user_id: text,
      agent_id: text,
      session_id: text,
      severity: text,
      message: text,
      action_id: nullableText,
      action_name: nullableText,
      action_params: fc.jsonValue(),
      capability_type: nullableText,
      capability_source: nullableText,
      capability_version: nullableText,
      mcp_server_id: nullableText,
      mcp_server_name: nullableText,
      success: fc.option(fc.boolean(), { nil: null }),
      error_message: nullableText,
      duration_ms: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
      requires_approval: fc.option(fc.boolean(), { nil: null }),
      approval_granted: fc.option(fc.boolean(), { nil: null }),
      metadata: fc.dictionary(text, fc.jsonValue()),
      seq: fc.nat(),
      prev_hash: text,
    });
    fc.assert(
      fc.property(event, (e) => {
        expect(hashEvent(e as unknown as AuditEvent)).toBe(byDefinition(e as unknown as AuditEvent));
      }),
      { numRuns: 300 },
    );
  });
});
