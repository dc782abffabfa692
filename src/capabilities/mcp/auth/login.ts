/**
 * `semibot-runtime mcp login SERVER --org ORG` and `mcp logout`: a person authorizes the runtime
 * for one org's use of one catalogue server, or takes that authorization back.
 *
 *   login:  connect to the server as the runtime would (initialize + tools/list) with an
 *           interactive authorization-code flow: the 401 starts the login, the tokens are stored
 *           sealed; a running daemon reads them at its next request
 *   logout: delete the stored tokens (the daemon's next request goes without one, the server
 *           refuses, its tools are withheld and mcp_disconnected is audited) and revoke the
 *           refresh token at the authorization server when it offers revocation (RFC 7009)
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Config } from '../../../../config/schema.ts';
import type { McpCatalogueEntry } from '../../../contracts.ts';
import { errorMessage, RuntimeError } from '../../../errors.ts';
import { MCP_CLIENT_INFO, redactLine } from '../client-identity.ts';
import { AuthorizationCodeFlow, type InteractiveLogin } from './authorization-code.ts';
import { openTokenStore, type StoreSlot, type TokenStore } from './token-store.ts';
import { authorizedFetch } from './upstream-auth.ts';

export interface LoginResult {
  tools: number;
  /** a fresh login happened (false: the stored tokens were still good) */
  prompted: boolean;
}

/** The catalogue entry a person logs in to, checked: exists, open to the org, OAuth authorization code. */
export function loginTarget(
  config: Config,
  serverId: string,
  orgId: string,
): { server: McpCatalogueEntry; slot: StoreSlot; store: TokenStore } {
  const server = config.mcp.servers.find((s) => s.id === serverId);
  if (!server || (server.orgs !== undefined && !server.orgs.includes(orgId))) {
    throw new RuntimeError(
      'mcp_server_not_allowed',
      `no MCP server ${JSON.stringify(serverId)} in the catalogue for org ${JSON.stringify(orgId)}`,
    );
  }
  const auth = server.auth;
  if (server.transport.type !== 'http' || auth?.type !== 'oauth' || auth.grant !== 'authorization_code') {
    throw new RuntimeError(
      'invalid_request',
      `MCP server ${serverId} needs no login: only servers with auth {type: oauth} and the authorization_code grant do`,
    );
  }
  const store = openTokenStore(config);
  if (!store)
    throw new RuntimeError('mcp_token_key_invalid', 'MCP_TOKEN_KEY is not set: tokens cannot be stored');
  return { server, slot: { orgId, serverId, serverUrl: server.transport.url }, store };
}

export async function login(
  config: Config,
  serverId: string,
  orgId: string,
  interactive: InteractiveLogin,
  {
    force = false,
    env = process.env,
  }: { force?: boolean; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<LoginResult> {
  const { server, slot, store } = loginTarget(config, serverId, orgId);
  if (force) await store.update(slot, (r) => ({ ...r, tokens: undefined, obtained_at: undefined }));
  let prompted = false;
  const flow = new AuthorizationCodeFlow(
    server.auth as Extract<typeof server.auth, { type: 'oauth' }>,
    slot,
    store,
    env,
    {
      timeoutMs: interactive.timeoutMs,
      show(url, id, org) {
        prompted = true;
        interactive.show(url, id, org);
      },
    },
  );
  const client = new Client(MCP_CLIENT_INFO, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(slot.serverUrl), {
    fetch: authorizedFetch(flow, fetch),
  });
  try {
    await client.connect(transport, {
      timeout: config.mcp.connection_timeout * 1000 + interactive.timeoutMs,
    });
    const { tools } = await client.listTools(undefined, { timeout: config.mcp.connection_timeout * 1000 });
    return { tools: tools.length, prompted };
  } catch (err) {
    if (err instanceof RuntimeError)
      throw new RuntimeError(err.code, redactLine(err.message, flow.secrets()), err.data);
    throw new RuntimeError(
      'mcp_authorization_failed',
      `login to MCP server ${serverId} failed: ${redactLine(errorMessage(err), flow.secrets())}`,
    );
  } finally {
    await client.close().catch(() => {});
  }
}

export interface LogoutResult {
  /** there was a stored authorization */
  removed: boolean;
  /** the authorization server confirmed the revocation */
  revoked: boolean;
  /** why it was not revoked there (no endpoint, refused), when it was not */
  note?: string;
}

export async function logout(
  config: Config,
  serverId: string,
  orgId: string,
  { env = process.env }: { env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<LogoutResult> {
  const { server, slot, store } = loginTarget(config, serverId, orgId);
  let record: Awaited<ReturnType<TokenStore['load']>> = {};
  try {
    record = await store.load(slot);
  } catch {
    // unreadable: nothing to revoke with, and it is deleted all the same
  }
  const removed = await store.remove(slot);
  const metadata = record.discovery?.authorizationServerMetadata as
    | { revocation_endpoint?: string }
    | undefined;
  const endpoint = metadata?.revocation_endpoint;
  const token = record.tokens?.refresh_token ?? record.tokens?.access_token;
  if (!token) return { removed, revoked: false, ...(removed ? { note: 'no token was stored' } : {}) };
  if (!endpoint)
    return { removed, revoked: false, note: 'the authorization server offers no revocation endpoint' };
  // The token goes back only to the authorization server that issued it.
  const issuedBy = record.tokens?.issuer;
  const expected = (server.auth as { issuer?: string }).issuer;
  const metadataIssuer = record.discovery?.authorizationServerMetadata?.issuer;
  if (
    (expected !== undefined && !sameIssuer(expected, metadataIssuer)) ||
    (issuedBy !== undefined && !sameIssuer(issuedBy, metadataIssuer))
  ) {
    return {
      removed,
      revoked: false,
      note: "the stored revocation endpoint is not the issuing server's; not sent",
    };
  }
  const body = new URLSearchParams({
    token,
    token_type_hint: record.tokens?.refresh_token ? 'refresh_token' : 'access_token',
  });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const auth = server.auth as { client_id?: string; client_secret_env?: string };
  const secret = auth.client_secret_env ? env[auth.client_secret_env] : undefined;
  const clientId = auth.client_id ?? record.client?.client_id;
  if (clientId && secret) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  } else if (clientId) body.set('client_id', clientId);
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(config.mcp.connection_timeout * 1000),
    });
    await response.body?.cancel().catch(() => {});
    return response.ok
      ? { removed, revoked: true }
      : { removed, revoked: false, note: `the revocation endpoint answered ${response.status}` };
  } catch (err) {
    const why = redactLine(errorMessage(err), [token]);
    return { removed, revoked: false, note: `the revocation endpoint could not be reached (${why})` };
  }
}

function sameIssuer(a: string, b: string | undefined): boolean {
  return b !== undefined && a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
