/**
 * Bearer tokens → orgs. Tokens come from server.api_tokens (API_TOKENS, `token=org_id` pairs)
 * and the file named by server.api_tokens_file (one pair a line), read once at boot.
 * Tokens are kept only as SHA-256 digests, so a lookup does not compare secrets byte by byte
 * and a heap dump does not hold them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, parseTokenPairs } from '../../../config/load.ts';
import type { Config } from '../../../config/schema.ts';
import { RuntimeError } from '../../errors.ts';

export interface Principal {
  /** the org this token may see; undefined when auth is off (no tokens configured) */
  org_id: string | undefined;
  /** a stable, non-secret id of the token (for rate-limit buckets and audit metadata) */
  token_id: string;
}

const MAX_SEEN_HEADERS = 1024;
/** The principal of every request while auth is off (one object: no allocation per request). */
const ANONYMOUS: Principal = Object.freeze({ org_id: undefined, token_id: 'anonymous' });
const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class TokenTable {
  readonly #orgByDigest: ReadonlyMap<string, string>;
  /**
   * Authorization headers already seen to carry a valid token → their principal, so a request
   * costs one map lookup, not two digests. Only valid tokens get in, and at most MAX_SEEN_HEADERS.
   */
  readonly #seen = new Map<string, Principal>();

  constructor(tokens: Record<string, string>) {
    this.#orgByDigest = new Map(Object.entries(tokens).map(([token, org]) => [digest(token), org]));
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
        parseTokenPairs(text, (pair) => {
          throw new ConfigError(
            `${server.api_tokens_file}: expected token=org_id lines, got ${JSON.stringify(pair.slice(0, 4))}…`,
          );
        }),
      );
    }
    return new TokenTable(tokens);
  }

  get enabled(): boolean {
    return this.#orgByDigest.size > 0;
  }

  get size(): number {
    return this.#orgByDigest.size;
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
    const org = this.#orgByDigest.get(d);
    if (org === undefined) return undefined;
    const principal = { org_id: org, token_id: d.slice(0, 16) };
    // Spelling variants of a valid header ("bearer", extra spaces) are distinct keys: cap them.
    if (this.#seen.size >= MAX_SEEN_HEADERS) this.#seen.clear();
    this.#seen.set(header, principal);
    return principal;
  }
}

/** Throws forbidden unless the principal may act for `orgId`. */
export function assertOrg(principal: Principal, orgId: string): void {
  if (principal.org_id !== undefined && principal.org_id !== orgId) {
    throw new RuntimeError('forbidden', `this token belongs to another org than ${JSON.stringify(orgId)}`);
  }
}
