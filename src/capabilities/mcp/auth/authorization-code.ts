/**
 * OAuth authorization code with PKCE for one org's use of one http MCP server, on the MCP SDK's
 * client auth (`auth()`: protected-resource and authorization-server discovery, client
 * registration, PKCE, the RFC 8707 `resource` parameter, token exchange and refresh). This file
 * is the provider the SDK asks for state, backed by the sealed token store, and the decision of
 * who may complete a login:
 *
 *   interactive (mcp login, run FILE): loopback redirect listening → authorization URL shown
 *     (and opened with $BROWSER) → the person approves → code → tokens stored sealed
 *   not interactive (the daemon): stored tokens are used and refreshed; anything that would need
 *     a person (no tokens, refresh refused, more scope) fails with mcp_authorization_required,
 *     and the daemon registers no client and opens no port on its own.
 */
import { randomBytes } from 'node:crypto';
import {
  auth,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { McpAuthConfig } from '../../../contracts.ts';
import { errorMessage, RuntimeError } from '../../../errors.ts';
import {
  type AuthFlow,
  authorizationRequired,
  type Challenge,
  expiresSoon,
  printable,
  secretFromEnv,
} from './auth-flow.ts';
import { LoopbackRedirect } from './loopback-redirect.ts';
import type { StoreSlot, StoredAuthorization, TokenStore } from './token-store.ts';

type AuthorizationCodeConfig = Extract<McpAuthConfig, { type: 'oauth' }>;

/** How a person is asked to approve: the URL shown and opened, then the wait for the redirect. */
export interface InteractiveLogin {
  /** tells the person to open the URL (prints it; opens $BROWSER when set) */
  show(authorizationUrl: URL, serverId: string, orgId: string): void;
  /** how long a login waits for the redirect */
  timeoutMs: number;
}

/** What a daemon's redirectUrl reads when it never redirects anyone (the SDK needs one to know the flow). */
const UNUSED_REDIRECT = 'http://127.0.0.1/callback';

export class AuthorizationCodeFlow implements AuthFlow, OAuthClientProvider {
  readonly #config: AuthorizationCodeConfig;
  readonly #slot: StoreSlot;
  readonly #store: TokenStore;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #interactive: InteractiveLogin | undefined;
  #redirectUrl: string | undefined;
  #codeVerifier: string | undefined;
  #state: string | undefined;
  #pendingAuthorization: URL | undefined;
  /** a step-up must not be answered by a refresh (it would bring back the same scope) */
  #hideRefreshToken = false;
  /** this auth() may not open a login: a refresh is tried without a person (see #authorize) */
  #silent = false;
  /** the refresh token handed to the SDK in this auth() (only that one may be invalidated) */
  #refreshTokenInUse: string | undefined;
  /** a code is being exchanged: its answer replaces the tokens whole */
  #exchangingCode = false;
  /** the access token a daemon found short of scope: refused until a login replaces it */
  #shortOfScope: { token: string; scope: string | undefined } | undefined;
  /** when a refresh last failed (ms): the next proactive one waits REFRESH_BACKOFF_MS */
  #refreshFailedAt = 0;
  #lastKnown: StoredAuthorization = {};
  /** one auth() at a time: a refresh, a login or a step-up share the login state above */
  #queue: Promise<unknown> = Promise.resolve();
  #authorizing: Promise<void> | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(
    config: AuthorizationCodeConfig,
    slot: StoreSlot,
    store: TokenStore,
    env: Readonly<Record<string, string | undefined>>,
    interactive?: InteractiveLogin,
  ) {
    this.#config = config;
    this.#slot = slot;
    this.#store = store;
    this.#env = env;
    this.#interactive = interactive;
    // Registering a client is part of a person's login, never the daemon's, and a pre-registered
    // client is never registered again elsewhere: without saveClientInformation the SDK refuses
    // to register (and to present a client bound to another authorization server).
    if (interactive && config.client_id === undefined) {
      this.saveClientInformation = (info) => this.#saveClient(info);
    }
  }

  saveClientInformation?: (info: OAuthClientInformationMixed) => Promise<void>;

  // ── AuthFlow ────────────────────────────────────────────────────────────────────────────────

  async token(): Promise<string | undefined> {
    let record = await this.#load();
    const tokens = record.tokens;
    if (tokens && this.#shortOfScope?.token === tokens.access_token) {
      throw authorizationRequired(this.#slot.serverId, this.#slot.orgId, moreScope(this.#shortOfScope.scope));
    }
    if (
      tokens?.refresh_token &&
      expiresSoon(tokens, record.obtained_at) &&
      Date.now() - this.#refreshFailedAt > REFRESH_BACKOFF_MS
    ) {
      // Refreshed before it expires; requests arriving meanwhile wait for the one refresh.
      this.#refreshing ??= this.#serial(() => this.#refresh()).finally(() => {
        this.#refreshing = undefined;
      });
      await this.#refreshing;
      record = await this.#load();
    }
    return record.tokens?.access_token;
  }

  authorize(challenge: Challenge): Promise<void> {
    // Requests that meet the challenge together share one authorization (one login).
    this.#authorizing ??= this.#serial(() => this.#authorize(challenge)).finally(() => {
      this.#authorizing = undefined;
    });
    return this.#authorizing;
  }

  secrets(): string[] {
    const out: string[] = [];
    const tokens = this.#lastKnown.tokens;
    if (tokens?.access_token) out.push(tokens.access_token);
    if (tokens?.refresh_token) out.push(tokens.refresh_token);
    if (tokens?.id_token) out.push(tokens.id_token);
    const client = this.#lastKnown.client as { client_secret?: string } | undefined;
    if (client?.client_secret) out.push(client.client_secret);
    const configured = this.#config.client_secret_env && this.#env[this.#config.client_secret_env];
    if (configured) out.push(configured);
    return out;
  }

  /** Runs `work` after the auth() calls before it: they share the login state. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #refresh(): Promise<void> {
    const before = (await this.#load()).tokens?.access_token;
    this.#silent = true;
    try {
      await this.#runAuth({ stepUp: false }, undefined);
    } catch {
      // Not fatal here: the request goes out with the token it has, and the server's 401 starts
      // the authorization proper (which reports why).
    } finally {
      this.#silent = false;
    }
    if ((await this.#load()).tokens?.access_token === before) this.#refreshFailedAt = Date.now();
  }

  async #authorize(challenge: Challenge): Promise<void> {
    const record = await this.#load();
    if (!this.#interactive) {
      if (!record.tokens) throw authorizationRequired(this.#slot.serverId, this.#slot.orgId, 'no login yet');
      if (challenge.stepUp) {
        // Refused until a login brings a token with more scope: a reconnect with the same token
        // would bring the tools back only to be refused again.
        this.#shortOfScope = { token: record.tokens.access_token, scope: challenge.scope };
        throw authorizationRequired(this.#slot.serverId, this.#slot.orgId, moreScope(challenge.scope));
      }
    }
    // First without a person: a refresh may be all it takes, and must not cost the registration.
    if (record.tokens?.refresh_token && !challenge.stepUp) {
      this.#silent = true;
      try {
        if ((await this.#runAuth(challenge, undefined)) === 'AUTHORIZED') return;
      } catch (err) {
        if (!this.#interactive) {
          if (err instanceof RuntimeError && err.code === 'mcp_authorization_required') {
            throw authorizationRequired(this.#slot.serverId, this.#slot.orgId, 'the refresh was refused');
          }
          throw err;
        }
      } finally {
        this.#silent = false;
      }
    }
    if (!this.#interactive)
      throw authorizationRequired(this.#slot.serverId, this.#slot.orgId, 'a person must approve');
    const redirect = await LoopbackRedirect.listen(this.#config.redirect_port ?? 0);
    try {
      this.#redirectUrl = redirect.url;
      // A dynamic registration made for another redirect URI (another login's port) is dropped so
      // the login registers again; pre-registered and metadata-document clients are kept.
      const client = (await this.#load()).client;
      if (!this.#config.client_id && client && !registeredFor(client, redirect.url)) {
        await this.#store.update(this.#slot, (r) => ({ ...r, client: undefined }));
      }
      const result = await this.#runAuth(challenge, undefined);
      if (result === 'AUTHORIZED') return;
      const url = this.#pendingAuthorization;
      if (!url || !this.#state) {
        throw authorizationRequired(this.#slot.serverId, this.#slot.orgId, 'a person must approve');
      }
      this.#interactive.show(url, this.#slot.serverId, this.#slot.orgId);
      const code = await redirect.expect(this.#state, this.#interactive.timeoutMs);
      this.#exchangingCode = true;
      if ((await this.#runAuth(challenge, code)) !== 'AUTHORIZED') {
        throw new RuntimeError(
          'mcp_authorization_failed',
          `MCP server ${this.#slot.serverId}: the code was not accepted`,
        );
      }
      this.#shortOfScope = undefined;
    } finally {
      this.#exchangingCode = false;
      this.#redirectUrl = undefined;
      this.#pendingAuthorization = undefined;
      await redirect.close();
    }
  }

  async #runAuth(
    challenge: Challenge,
    authorizationCode: string | undefined,
  ): Promise<'AUTHORIZED' | 'REDIRECT'> {
    this.#hideRefreshToken = challenge.stepUp;
    this.#refreshTokenInUse = undefined;
    const scope = challenge.scope ?? this.#config.scope;
    try {
      return await auth(this, {
        serverUrl: this.#slot.serverUrl,
        fetchFn: boundedFetch,
        ...(challenge.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : {}),
        ...(scope ? { scope } : {}),
        ...(authorizationCode !== undefined ? { authorizationCode } : {}),
      });
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError(
        'mcp_authorization_failed',
        `authorizing with MCP server ${this.#slot.serverId} failed: ${errorMessage(err)}`,
      );
    } finally {
      this.#hideRefreshToken = false;
    }
  }

  async #load(): Promise<StoredAuthorization> {
    this.#lastKnown = await this.#store.load(this.#slot);
    return this.#lastKnown;
  }

  // ── OAuthClientProvider (asked by the SDK's auth()) ─────────────────────────────────────────

  get redirectUrl(): string {
    return this.#redirectUrl ?? UNUSED_REDIRECT;
  }

  get clientMetadataUrl(): string | undefined {
    return this.#config.client_metadata_url;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'semibot-runtime',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: this.#config.client_secret_env ? 'client_secret_basic' : 'none',
      ...(this.#config.scope ? { scope: this.#config.scope } : {}),
    };
  }

  state(): string {
    this.#state = randomBytes(32).toString('base64url');
    return this.#state;
  }

  async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    const record = await this.#load();
    const configured = this.#config.client_id;
    if (configured !== undefined) {
      const stored = record.client?.client_id === configured ? record.client : undefined;
      const issuer = this.#config.issuer ?? (stored as { issuer?: string } | undefined)?.issuer;
      return {
        client_id: configured,
        ...(this.#config.client_secret_env
          ? { client_secret: secretFromEnv(this.#env, this.#config.client_secret_env, this.#slot.serverId) }
          : {}),
        ...(issuer ? { issuer } : {}),
      };
    }
    // The daemon registers no client on its own: that is part of a person's login.
    if (!record.client && (!this.#interactive || this.#silent)) {
      throw authorizationRequired(this.#slot.serverId, this.#slot.orgId, 'no login yet');
    }
    return record.client;
  }

  async #saveClient(info: OAuthClientInformationMixed): Promise<void> {
    await this.#store.update(this.#slot, (r) => ({ ...r, client: info }));
  }

  async tokens(): Promise<OAuthTokens | undefined> {
    const tokens = (await this.#load()).tokens;
    if (!tokens) return tokens;
    if (this.#hideRefreshToken) {
      const { refresh_token: _hidden, ...rest } = tokens;
      return rest;
    }
    this.#refreshTokenInUse = tokens.refresh_token;
    return tokens;
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    const exchange = this.#exchangingCode;
    await this.#store.update(this.#slot, (r) => ({
      ...r,
      // A refresh answer without a new refresh token keeps the old one (RFC 6749 §6); a new grant
      // (a code exchange) replaces the tokens whole.
      tokens: exchange
        ? tokens
        : { ...tokens, refresh_token: tokens.refresh_token ?? r.tokens?.refresh_token },
      obtained_at: Date.now(),
    }));
    await this.#load();
  }

  redirectToAuthorization(authorizationUrl: URL): void {
    if (!this.#interactive || this.#silent)
      throw authorizationRequired(this.#slot.serverId, this.#slot.orgId, 'a person must approve');
    this.#pendingAuthorization = authorizationUrl;
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.#codeVerifier = codeVerifier;
  }

  codeVerifier(): string {
    if (!this.#codeVerifier) throw new RuntimeError('mcp_authorization_failed', 'no login is under way');
    return this.#codeVerifier;
  }

  async invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): Promise<void> {
    if (scope === 'verifier' || scope === 'all') this.#codeVerifier = undefined;
    if (scope === 'verifier') return;
    const inUse = this.#refreshTokenInUse;
    await this.#store.update(this.#slot, (r) => ({
      ...r,
      // Only the tokens this call used: another process may have refreshed them meanwhile (the
      // loser of that race gets invalid_grant and must not wipe the winner's tokens).
      ...((scope === 'all' || scope === 'tokens') &&
      (inUse === undefined || r.tokens?.refresh_token === inUse)
        ? { tokens: undefined, obtained_at: undefined }
        : {}),
      ...(scope === 'all' || scope === 'client' ? { client: undefined } : {}),
      ...(scope === 'all' || scope === 'discovery' ? { discovery: undefined } : {}),
    }));
  }

  async saveDiscoveryState(state: OAuthDiscoveryState): Promise<void> {
    await this.#store.update(this.#slot, (r) => ({ ...r, discovery: state }));
  }

  async discoveryState(): Promise<OAuthDiscoveryState | undefined> {
    return (await this.#load()).discovery;
  }
}

/** The authorization server's endpoints get a deadline: a slow one must not hold every request. */
const OAUTH_REQUEST_TIMEOUT_MS = 30_000;
/** After a refresh that failed, the next proactive one waits this long (requests use the token in hand). */
const REFRESH_BACKOFF_MS = 30_000;

const boundedFetch: typeof fetch = (input, init) =>
  fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(OAUTH_REQUEST_TIMEOUT_MS) });

function registeredFor(client: OAuthClientInformationMixed, redirectUrl: string): boolean {
  const uris = (client as { redirect_uris?: string[] }).redirect_uris;
  // A client ID metadata document (client_id is its URL) names its own redirect URIs.
  return uris === undefined ? /^https:/.test(client.client_id) : uris.includes(redirectUrl);
}

function moreScope(scope: string | undefined): string {
  return `the server asks for more scope${scope ? ` (${printable(scope, 200)})` : ''}`;
}
