/**
 * AuditEvent ⇄ audit_events row, losslessly.
 *
 * PostgreSQL cannot store some strings that agents and tools produce: text and jsonb refuse
 * U+0000 (22021, 22P05), and jsonb refuses a lone UTF-16 surrogate. One bad row aborts a whole
 * COPY, and changing the string would break the event's hash. So such strings are escaped,
 * reversibly, with U+E000 (a private-use character) as the escape:
 *
 *   U+0000 → U+E000 '0'    U+E000 → U+E000 'e'    lone surrogate → U+E000 'u' + 4 hex digits
 *
 * in every text column and in every string (keys too) inside action_params and metadata.
 * A row that needed it has escaped = true, and only such rows are decoded on the way back.
 * Filters on text columns encode their value the same way, so equality still holds.
 *
 * Rows are written in COPY text format (tab-separated, \N for NULL, backslash escapes).
 */
import { RuntimeError } from '../../../errors.ts';
import type { AuditCipher } from '../../crypto.ts';
import { eventAad } from '../../crypto.ts';
import { type AuditEvent, HASHED_FIELDS } from '../../events.ts';

const ESC = '\uE000';
// Cheap first look: only strings with one of these need a closer one (most have none).
const MAYBE_UNSAFE = /[\u0000\uD800-\uDFFF\uE000]/;
const MAYBE_SPECIAL = /[\u0000\t\n\r\\\uD800-\uDFFF\uE000]/;
const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
// JSON.stringify writes U+0000 as \u0000 and a lone surrogate as \udXXX; U+E000 stays raw.
const UNSAFE_JSON = /\\u0000|\uE000|\\ud[89a-f]/;
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** The columns in COPY order: every field of the event (as hashed, then its hash), then storage-only columns. */
export const COLUMNS = [...HASHED_FIELDS, 'hash', 'timestamp_text', 'escaped', 'key_id', 'sealed'] as const;

export const COLUMN_LIST = COLUMNS.map((c) => `"${c}"`).join(', ');

/** Each column's position in a COPY row. */
const COLUMN_INDEX = Object.fromEntries(COLUMNS.map((c, i) => [c, i])) as Record<(typeof COLUMNS)[number], number>;

interface EscapeState {
  escaped: boolean;
}

/** The stored form of a string: unchanged unless PostgreSQL could not hold it. */
export function toPgString(s: string, state?: EscapeState): string {
  if (!MAYBE_UNSAFE.test(s)) return s;
  let changed = false;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) {
      out += `${ESC}0`;
      changed = true;
    } else if (c === 0xe000) {
      out += `${ESC}e`;
      changed = true;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        // a valid pair (an emoji, say): kept as it is
        out += s[i]! + s[i + 1]!;
        i++;
      } else {
        out += `${ESC}u${c.toString(16).padStart(4, '0')}`;
        changed = true;
      }
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      out += `${ESC}u${c.toString(16).padStart(4, '0')}`;
      changed = true;
    } else out += s[i]!;
  }
  if (!changed) return s;
  if (state) state.escaped = true;
  return out;
}

/** Inverse of toPgString. */
export function fromPgString(s: string): string {
  if (s.indexOf(ESC) < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== ESC) {
      out += ch;
      continue;
    }
    const kind = s[i + 1];
    if (kind === '0') {
      out += '\u0000';
      i++;
    } else if (kind === 'e') {
      out += ESC;
      i++;
    } else if (kind === 'u') {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 6), 16));
      i += 5;
    } else out += ch; // not written by toPgString; keep as it is
  }
  return out;
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  const out: Record<string, unknown> = {};
  // defineProperty, not assignment: a key named "__proto__" (JSON allows it) stays a key.
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, f(k), { value: mapStrings(v, f), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** JSON text for a jsonb column; escapes its strings only when plain JSON would be refused. */
export function toJsonText(value: unknown, state: EscapeState): string {
  const text = JSON.stringify(value);
  if (!UNSAFE_JSON.test(text)) return text;
  const local: EscapeState = { escaped: false };
  const safe = JSON.stringify(mapStrings(value, (s) => toPgString(s, local)));
  if (local.escaped) state.escaped = true;
  return safe;
}

export function fromJsonValue(value: unknown): unknown {
  return mapStrings(value, fromPgString);
}

function copyText(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (m) => COPY_ESCAPES[m]!) : s;
}

function text(s: string | null, state: EscapeState): string {
  if (s === null) return '\\N';
  // The common case, one regex test: nothing to escape for PostgreSQL or for COPY.
  if (!MAYBE_SPECIAL.test(s)) return s;
  return copyText(toPgString(s, state));
}

function bool(b: boolean | null): string {
  return b === null ? '\\N' : b ? 't' : 'f';
}

function num(n: number | null): string {
  if (n === null) return '\\N';
  // float8 input spells these out; String() would give "NaN" and "Infinity" too, but be explicit.
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  return String(n);
}

/** 'YYYY-MM' of an event's timestamp (UTC), or undefined when it is not a valid time. */
export function monthOf(timestamp: string): string | undefined {
  if (CANONICAL_TIME.test(timestamp)) return timestamp.slice(0, 7);
  const ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) return undefined;
  return new Date(ms).toISOString().slice(0, 7);
}

function isCanonicalTime(timestamp: string): boolean {
  // toISOString()'s shape; an impossible date of that shape (Feb 30) is refused by PostgreSQL.
  if (CANONICAL_TIME.test(timestamp)) return true;
  const ms = Date.parse(timestamp);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === timestamp;
}

/** One event as one COPY text line (with its newline). */
export function encodeRow(event: AuditEvent, cipher?: AuditCipher): string {
  const state: EscapeState = { escaped: false };
  let params: string;
  let metadata: string;
  let sealedColumns = '\\N\t\\N';
  if (cipher) {
    // bytea holds anything: the payload is sealed as plain JSON, no string escaping needed.
    const plain = Buffer.from(JSON.stringify([event.action_params, event.metadata]), 'utf8');
    const box = cipher.seal(plain, eventAad(event.org_id, event.event_id));
    sealedColumns = `${copyText(box.keyId)}\t\\\\x${box.sealed.toString('hex')}`;
    params = '\\N';
    metadata = '\\N';
  } else {
    params = event.action_params === null ? '\\N' : copyText(toJsonText(event.action_params, state));
    metadata = copyText(toJsonText(event.metadata, state));
  }
  // One concatenation in COLUMNS order (no array per row: this runs for every event stored).
  const row =
    text(event.event_id, state) +
    '\t' +
    text(event.event_type, state) +
    '\t' +
    text(event.timestamp, state) +
    '\t' +
    text(event.org_id, state) +
    '\t' +
    text(event.user_id, state) +
    '\t' +
    text(event.agent_id, state) +
    '\t' +
    text(event.session_id, state) +
    '\t' +
    text(event.severity, state) +
    '\t' +
    text(event.message, state) +
    '\t' +
    text(event.action_id, state) +
    '\t' +
    text(event.action_name, state) +
    '\t' +
    params +
    '\t' +
    text(event.capability_type, state) +
    '\t' +
    text(event.capability_source, state) +
    '\t' +
    text(event.capability_version, state) +
    '\t' +
    text(event.mcp_server_id, state) +
    '\t' +
    text(event.mcp_server_name, state) +
    '\t' +
    bool(event.success) +
    '\t' +
    text(event.error_message, state) +
    '\t' +
    num(event.duration_ms) +
    '\t' +
    bool(event.requires_approval) +
    '\t' +
    bool(event.approval_granted) +
    '\t' +
    metadata +
    '\t' +
    event.seq +
    '\t' +
    text(event.prev_hash, state) +
    '\t' +
    text(event.hash, state) +
    '\t' +
    (isCanonicalTime(event.timestamp) ? '\\N' : text(event.timestamp, state));
  // `escaped` is known only once every field has been looked at.
  return `${row}\t${state.escaped ? 't' : 'f'}\t${sealedColumns}\n`;
}

const COPY_UNESCAPE = /\\(.)/g;
const COPY_UNESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', '\\': '\\' };

/** One COPY text column back to its value (null for \N). */
function copyColumn(column: string): string | null {
  if (column === '\\N') return null;
  return column.indexOf('\\') < 0 ? column : column.replace(COPY_UNESCAPE, (_, c: string) => COPY_UNESCAPES[c] ?? c);
}

/**
 * One line of encodeRow's COPY text (without its newline) back to the row PostgreSQL would
 * return for it, so decodeRow() rebuilds the event. Used where a batch is held as COPY text and
 * an event is needed again: a batch that could not be written goes to the spool, a poison row
 * to the dead-letter file. JSON columns come back as written (jsonb would normalise them).
 */
export function parseCopyRow(line: string): AuditRow {
  const columns = line.split('\t');
  if (columns.length !== COLUMNS.length) {
    throw new RuntimeError('internal_error', `a COPY row has ${columns.length} columns, expected ${COLUMNS.length}`);
  }
  const v = (name: (typeof COLUMNS)[number]) => copyColumn(columns[COLUMN_INDEX[name]]!);
  const json = (name: (typeof COLUMNS)[number]) => {
    const text = v(name);
    return text === null ? null : (JSON.parse(text) as unknown);
  };
  const bool = (name: (typeof COLUMNS)[number]) => {
    const text = v(name);
    return text === null ? null : text === 't';
  };
  const sealed = v('sealed');
  const duration = v('duration_ms');
  return {
    event_id: v('event_id')!,
    event_type: v('event_type')!,
    timestamp: new Date(v('timestamp')!),
    org_id: v('org_id')!,
    user_id: v('user_id')!,
    agent_id: v('agent_id')!,
    session_id: v('session_id')!,
    severity: v('severity')!,
    message: v('message')!,
    action_id: v('action_id'),
    action_name: v('action_name'),
    action_params: json('action_params'),
    capability_type: v('capability_type'),
    capability_source: v('capability_source'),
    capability_version: v('capability_version'),
    mcp_server_id: v('mcp_server_id'),
    mcp_server_name: v('mcp_server_name'),
    success: bool('success'),
    error_message: v('error_message'),
    duration_ms: duration === null ? null : Number(duration),
    requires_approval: bool('requires_approval'),
    approval_granted: bool('approval_granted'),
    metadata: json('metadata') as Record<string, unknown> | null,
    seq: Number(v('seq')),
    prev_hash: v('prev_hash')!,
    hash: v('hash')!,
    timestamp_text: v('timestamp_text'),
    escaped: bool('escaped') === true,
    key_id: v('key_id'),
    // bytea in hex form: \x followed by hex digits
    sealed: sealed === null ? null : Buffer.from(sealed.slice(2), 'hex'),
  };
}

/** A row as node-postgres returns it for `SELECT <COLUMN_LIST>`. */
export interface AuditRow {
  event_id: string;
  event_type: string;
  timestamp: Date;
  org_id: string;
  user_id: string;
  agent_id: string;
  session_id: string;
  severity: string;
  message: string;
  action_id: string | null;
  action_name: string | null;
  action_params: unknown;
  capability_type: string | null;
  capability_source: string | null;
  capability_version: string | null;
  mcp_server_id: string | null;
  mcp_server_name: string | null;
  success: boolean | null;
  error_message: string | null;
  duration_ms: number | null;
  requires_approval: boolean | null;
  approval_granted: boolean | null;
  metadata: Record<string, unknown> | null;
  seq: number;
  prev_hash: string;
  hash: string;
  timestamp_text: string | null;
  escaped: boolean;
  key_id: string | null;
  sealed: Buffer | null;
}

/** Rebuilds exactly the event that was written (and hashed). */
export function decodeRow(row: AuditRow, cipher?: AuditCipher): AuditEvent {
  const s = row.escaped ? fromPgString : (x: string) => x;
  const n = (x: string | null) => (x === null ? null : s(x));
  const orgId = s(row.org_id);
  const eventId = row.event_id;
  let params: unknown = row.action_params;
  let metadata: unknown = row.metadata;
  if (row.key_id !== null) {
    if (!cipher) {
      // Refuse rather than hand out an event whose payload silently reads as empty.
      throw new RuntimeError(
        'audit_decrypt_failed',
        `event ${eventId} is encrypted (key ${row.key_id}) and no AUDIT_ENCRYPTION_KEY is configured`,
      );
    }
    const plain = cipher.open(row.key_id, row.sealed ?? Buffer.alloc(0), eventAad(orgId, eventId));
    [params, metadata] = JSON.parse(plain.toString('utf8')) as [unknown, unknown];
  } else if (row.escaped) {
    params = params === null ? null : fromJsonValue(params);
    metadata = fromJsonValue(metadata);
  }
  return {
    event_id: eventId,
    event_type: s(row.event_type) as AuditEvent['event_type'],
    timestamp: row.timestamp_text === null ? row.timestamp.toISOString() : s(row.timestamp_text),
    org_id: orgId,
    user_id: s(row.user_id),
    agent_id: s(row.agent_id),
    session_id: s(row.session_id),
    severity: s(row.severity) as AuditEvent['severity'],
    message: s(row.message),
    action_id: n(row.action_id),
    action_name: n(row.action_name),
    action_params: params ?? null,
    capability_type: n(row.capability_type),
    capability_source: n(row.capability_source),
    capability_version: n(row.capability_version),
    mcp_server_id: n(row.mcp_server_id),
    mcp_server_name: n(row.mcp_server_name),
    success: row.success,
    error_message: n(row.error_message),
    duration_ms: row.duration_ms,
    requires_approval: row.requires_approval,
    approval_granted: row.approval_granted,
    metadata: (metadata ?? {}) as Record<string, unknown>,
    seq: row.seq,
    prev_hash: s(row.prev_hash),
    hash: s(row.hash),
  };
}
