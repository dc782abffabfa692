/**
 * What the authorizing fetch (authorizedFetch in upstream-auth.ts) asks of each kind of upstream authorization:
 * a token to send, an answer to a challenge, and the secrets to keep out of every message.
 */
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { RuntimeError } from '../../../errors.ts';

/** What a 401, or a 403 with error="insufficient_scope", asked for (RFC 6750 §3, RFC 9728 §5.1). */
export interface Challenge {
  resourceMetadataUrl?: URL;
  scope?: string;
  /** a 403 insufficient_scope: the token is good but needs more scope */
  stepUp: boolean;
}

export interface AuthFlow {
  /** the access token to send now (refreshed first when it is about to expire), if there is one */
  token(): Promise<string | undefined>;
  /** answers a challenge; throws mcp_authorization_required (a person must log in) or _failed */
  authorize(challenge: Challenge): Promise<void>;
  /** secret values known now (tokens, client secret): redacted from every message that leaves */
  secrets(): string[];
}

/** Seconds before expiry at which a token is refreshed rather than sent. */
export const REFRESH_AHEAD_SECONDS = 60;

/** True when tokens obtained at `obtainedAt` expire within REFRESH_AHEAD_SECONDS. */
export function expiresSoon(tokens: OAuthTokens, obtainedAt: number | undefined, now = Date.now()): boolean {
  if (tokens.expires_in === undefined || obtainedAt === undefined) return false;
  return obtainedAt + (tokens.expires_in - REFRESH_AHEAD_SECONDS) * 1000 <= now;
}

/** The error of a server whose authorization the runtime does not hold (any more). */
export function authorizationRequired(serverId: string, orgId: string, why: string): RuntimeError {
  return new RuntimeError(
    'mcp_authorization_required',
    `MCP server ${serverId} needs authorization for org ${orgId} (${why}): run semibot-runtime mcp login ${serverId} --org ${orgId}`,
    { server_id: serverId, org_id: orgId },
  );
}

/** Text from an authorization server or a redirect, for a message: printable ASCII only, bounded. */
export function printable(text: string, max: number): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/** Reads a secret's environment variable; a clear error when it is not set. */
export function secretFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  serverId: string,
): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new RuntimeError(
      'mcp_authorization_failed',
      `MCP server ${serverId}: the environment variable ${name} (its auth secret) is not set`,
    );
  }
  return value;
}
