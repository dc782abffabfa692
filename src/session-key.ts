/**
 * Session ids are unique within their org, not across orgs (issue 15): two orgs may both run a
 * session "s1", and neither learns from an answer that the other's exists. Everything that finds
 * a session — the supervisor's table, a worker's actors, the MCP gateway, the cluster registry,
 * the audit actor's chain heads — keys it by its SessionKey, the pair in one string.
 *
 * The org's length leads, so the pair is read back unambiguously whatever characters either id
 * holds (an org id may contain ':' or NUL).
 */
import { z } from 'zod';
import { RuntimeError } from './errors.ts';

export type SessionKey = string & { readonly __brand: 'SessionKey' };

export interface SessionRef {
  org_id: string;
  session_id: string;
}

export function sessionKey(orgId: string, sessionId: string): SessionKey {
  return `${orgId.length}:${orgId}:${sessionId}` as SessionKey;
}

export function keyOf(ref: SessionRef): SessionKey {
  return sessionKey(ref.org_id, ref.session_id);
}

/** The org and session id of a key; throws on a string that is not one. */
export function parseSessionKey(key: string): SessionRef {
  const colon = key.indexOf(':');
  const length = Number(key.slice(0, colon));
  const orgEnd = colon + 1 + length;
  if (colon < 1 || !Number.isInteger(length) || key[orgEnd] !== ':') {
    throw new Error(`not a session key: ${JSON.stringify(key.slice(0, 80))}`);
  }
  return { org_id: key.slice(colon + 1, orgEnd), session_id: key.slice(orgEnd + 1) };
}

/** A SessionKey on the wire (a message or a peer's frame): a string that parses as one. */
export const SessionKeySchema = z.custom<SessionKey>((value) => {
  if (typeof value !== 'string') return false;
  try {
    parseSessionKey(value);
    return true;
  } catch {
    return false;
  }
}, 'expected a session key');

/**
 * The one session of an id among those found (in any org), for a caller that named no org:
 * undefined when none, invalid_request when several orgs have a session of that id.
 */
export function onlySessionOf<T>(sessionId: string, found: readonly T[]): T | undefined {
  if (found.length > 1) {
    throw new RuntimeError(
      'invalid_request',
      `session id ${sessionId} exists in ${found.length} orgs (ids are unique within an org); name the org`,
    );
  }
  return found[0];
}
