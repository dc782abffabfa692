/**
 * The fetch an http MCP server's transport uses when its catalogue entry carries `auth`:
 *
 *   request ──► + Authorization: Bearer <this org's token for this server> ──► server
 *     401, or 403 error="insufficient_scope" ◄──┘
 *       └─► flow.authorize(challenge) (refresh, login, step-up; or mcp_authorization_required)
 *           └─► the request once more with the new token (a second refusal is the answer)
 *
 * No token passthrough: the header is set from this server's own flow only, replacing whatever
 * the request carried, so neither the token a client presented to the runtime nor another
 * server's token can go out; and the SDK's transport keeps requests on the server's origin.
 */
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import type { McpServerConfig } from '../../../contracts.ts';
import { RuntimeError } from '../../../errors.ts';
import { type AuthFlow, type Challenge, secretFromEnv } from './auth-flow.ts';
import { AuthorizationCodeFlow, type InteractiveLogin } from './authorization-code.ts';
import { ClientCredentialsFlow } from './client-credentials.ts';
import type { TokenStore } from './token-store.ts';
import type { ElicitationHandler } from '../elicitation.ts';

/** What the gateway's connections get from the runtime for servers that need a person or a secret. */
export interface UpstreamContext {
  /** sealed token store (MCP_TOKEN_DIR / MCP_TOKEN_KEY); needed by the authorization_code grant */
  store: TokenStore | undefined;
  env: Readonly<Record<string, string | undefined>>;
  /** set where a person is at hand (mcp login, run FILE): logins complete there */
  interactive?: InteractiveLogin;
  /** set where a person is at hand: upstream servers' form elicitation is answered there */
  elicit?: ElicitationHandler;
}

/** The authorization flow of one org's use of one server; undefined for a server without auth. */
export function upstreamAuthFlow(
  server: McpServerConfig,
  orgId: string,
  ctx: UpstreamContext,
): AuthFlow | undefined {
  const auth = server.auth;
  if (auth === undefined || server.transport.type !== 'http') return undefined;
  const url = server.transport.url;
  if (auth.type === 'bearer')
    return new BearerFlow(server.id, secretFromEnv(ctx.env, auth.token_env, server.id));
  if (auth.grant === 'client_credentials') {
    return new ClientCredentialsFlow({ ...auth, grant: 'client_credentials' }, server.id, url, ctx.env);
  }
  if (!ctx.store) {
    throw new RuntimeError(
      'mcp_authorization_failed',
      `MCP server ${server.id} uses OAuth authorization codes: set MCP_TOKEN_KEY so its tokens can be stored sealed`,
    );
  }
  return new AuthorizationCodeFlow(
    auth,
    { orgId, serverId: server.id, serverUrl: url },
    ctx.store,
    ctx.env,
    ctx.interactive,
  );
}

/** A fetch that authorizes every request with `flow` and answers its challenges. */
export function authorizedFetch(flow: AuthFlow, next: typeof fetch): typeof fetch {
  let lastStepUp: string | undefined;
  const send = async (input: Parameters<typeof fetch>[0], init: RequestInit | undefined) => {
    const headers = new Headers(init?.headers);
    const token = await flow.token();
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    else headers.delete('authorization');
    return next(input, { ...init, headers });
  };
  return async (input, init) => {
    const first = await send(input, init);
    const challenge = challengeOf(first);
    if (!challenge) {
      if (first.ok) lastStepUp = undefined;
      return first;
    }
    if (challenge.stepUp) {
      // The same demand twice in a row is not met by asking again (no loop on a server that
      // keeps refusing): the 403 is the answer.
      const header = first.headers.get('www-authenticate') ?? '';
      if (header === lastStepUp) return first;
      lastStepUp = header;
    }
    await first.body?.cancel().catch(() => {});
    await flow.authorize(challenge);
    return send(input, init);
  };
}

function challengeOf(response: Response): Challenge | undefined {
  if (response.status !== 401 && response.status !== 403) return undefined;
  const { resourceMetadataUrl, scope, error } = extractWWWAuthenticateParams(response);
  if (response.status === 403 && error !== 'insufficient_scope') return undefined;
  return {
    stepUp: response.status === 403,
    ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}),
    ...(scope ? { scope } : {}),
  };
}

/** A static bearer token from the environment: a refusal is final until the operator changes it. */
class BearerFlow implements AuthFlow {
  readonly #serverId: string;
  readonly #token: string;

  constructor(serverId: string, token: string) {
    this.#serverId = serverId;
    this.#token = token;
  }

  async token(): Promise<string> {
    return this.#token;
  }

  async authorize(challenge: Challenge): Promise<void> {
    throw new RuntimeError(
      'mcp_authorization_failed',
      `MCP server ${this.#serverId} refused the static token from its token_env${challenge.stepUp ? ' (insufficient scope)' : ''}`,
    );
  }

  secrets(): string[] {
    return [this.#token];
  }
}
