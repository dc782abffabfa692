/**
 * Bearer tokens → principals. Tokens come from server.api_tokens (API_TOKENS, `token=grant`
 * pairs) and the file named by server.api_tokens_file (one pair a line), read once at boot.
 * A grant is `org_id` (every role; the principal is `token:<first 8 hex of the token's SHA-256>`)
 * or `org_id:name:role+role` with roles `run` (start sessions, submit actions, cancel), `approve`
 * (decide approvals) and `read` (see sessions, audit and events).
 * Tokens are kept only as SHA-256 digests, so a lookup does not compare secrets byte by byte
 * and a heap dump does not hold them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, parseTokenPairs } from '../../../config/load.ts';
import type { Config } from '../../../config/schema.ts';
import { RuntimeError } from '../../errors.ts';

export const ROLES = ['run', 'approve', 'read'] as const;
export type Role = (typeof ROLES)[number];

/** What a token line grants (its value after `=`). */
export interface TokenGrant {
  org_id: string;
  /** the principal's name, recorded as `decided_by` and a session's `started_by`; undefined: derived from the token */
  name: string | undefined;
  roles: ReadonlySet<Role>;
}

export interface Principal {
  /** the org this token may see; undefined when auth is off (no tokens configured) */
  org_id: string | undefined;
  /** a stable, non-secret id of the token (for rate-limit buckets) */
  token_id: string;
  /** who this is, in the audit trail: the grant's name, or `token:<8 hex>` */
  name: string;
  roles: ReadonlySet<Role>;
}

const MAX_SEEN_HEADERS = 1024;
const EVERY_ROLE: ReadonlySet<Role> = new Set(ROLES);
/** The principal of every request while auth is off (one object: no allocation per request). */
const ANONYMOUS: Principal = Object.freeze({ org_id: undefined, token_id: 'anonymous', name: 'anonymous', roles: EVERY_ROLE });
const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Reads a grant: `org_id`, or `org_id:name:role+role`. Throws an Error whose message names the
 * problem (never the token).
 */
export function parseGrant(value: string): TokenGrant {
  const parts = value.split(':');
  if (parts.length === 1 && parts[0]) return { org_id: parts[0], name: undefined, roles: EVERY_ROLE };
  const [org, name, roleList] = parts;
  if (parts.length !== 3 || !org || !name || !roleList) {
    throw new Error(`expected org_id or org_id:name:role+role, got ${parts.length} ':'-separated part(s)`);
  }
  const roles = roleList.split('+');
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) {
    throw new Error(`unknown role(s) ${unknown.map((r) => JSON.stringify(r)).join(', ')} for ${name}; roles are ${ROLES.join(', ')}`);
  }
  return { org_id: org, name, roles: new Set(roles as Role[]) };
}

export class TokenTable {
  readonly #grantByDigest: ReadonlyMap<string, TokenGrant>;
  /**
   * Authorization headers already seen to carry a valid token → their principal, so a request
   * costs one map lookup, not two digests. Only valid tokens get in, and at most MAX_SEEN_HEADERS.
   */
  readonly #seen = new Map<string, Principal>();

  /** Throws ConfigError for a grant that does not parse, naming its position (never the token). */
  constructor(tokens: Record<string, string>) {
    this.#grantByDigest = new Map(
      Object.entries(tokens).map(([token, grant], i) => {
        try {
          return [digest(token), parseGrant(grant)];
        } catch (err) {
          throw new ConfigError(`API token ${i + 1} (server.api_tokens / API_TOKENS / API_TOKENS_FILE): ${(err as Error).message}`);
        }
      }),
    );
  }

  /** Tokens from the config and the tokens file. Throws ConfigError naming the file. */
  static fromConfig(server: Config['server']): TokenTable {
    const tokens: Record<string, string> = { ...server.api_tokens };
    if (server.api_tokens_file) {
      let text: string;
      try {
        text = readFileSync(server.api_tokens_file, 'utf8');
      } catch (err) {
        throw new ConfigError(
          `API_TOKENS_FILE (server.api_tokens_file) = ${JSON.stringify(server.api_tokens_file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        );
      }
      Object.assign(
        tokens,
        parseTokenPairs(text, (_pair, n) => {
          throw new ConfigError(
            `${server.api_tokens_file}: expected token=org_id or token=org_id:name:role+role lines; entry ${n} has no '=' or nothing after it`,
          );
        }),
      );
    }
    return new TokenTable(tokens);
  }

  get enabled(): boolean {
    return this.#grantByDigest.size > 0;
  }

  get size(): number {
    return this.#grantByDigest.size;
  }

  /** The principal of an Authorization header; throws unauthorized when tokens are on and it is missing or unknown. */
  authenticate(header: string | undefined): Principal {
    if (!this.enabled) return ANONYMOUS;
    const principal = this.lookup(header);
    if (principal) return principal;
    if (!/^Bearer\s+\S+\s*$/i.test(header ?? '')) {
      throw new RuntimeError('unauthorized', 'expected an Authorization: Bearer <token> header');
    }
    throw new RuntimeError('unauthorized', 'the bearer token is not valid');
  }

  /**
   * The principal of a header carrying a valid token, else undefined (never throws). Its
   * token_id is also the request's rate-limit bucket (server.ts).
   */
  lookup(header: string | undefined): Principal | undefined {
    if (header === undefined) return undefined;
    const cached = this.#seen.get(header);
    if (cached) return cached;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return undefined;
    const d = digest(match[1]!);
    const grant = this.#grantByDigest.get(d);
    if (grant === undefined) return undefined;
    const principal: Principal = Object.freeze({
      org_id: grant.org_id,
      token_id: d.slice(0, 16),
      name: grant.name ?? `token:${d.slice(0, 8)}`,
      roles: grant.roles,
    });
    // Spelling variants of a valid header ("bearer", extra spaces) are distinct keys: cap them.
    if (this.#seen.size >= MAX_SEEN_HEADERS) this.#seen.clear();
    this.#seen.set(header, principal);
    return principal;
  }
}

/** Throws forbidden unless the principal holds one of `roles`. */
export function assertRole(principal: Principal, ...roles: Role[]): void {
  if (roles.some((role) => principal.roles.has(role))) return;
  throw new RuntimeError(
    'forbidden',
    `${principal.name} may not do this: it needs the ${roles.join(' or ')} role (it has ${[...principal.roles].join(', ') || 'none'})`,
  );
}

/** Throws forbidden unless the principal may act for `orgId`. */
export function assertOrg(principal: Principal, orgId: string): void {
  if (principal.org_id !== undefined && principal.org_id !== orgId) {
    throw new RuntimeError('forbidden', `this token belongs to another org than ${JSON.stringify(orgId)}`);
  }
}
