/**
 * Machine-to-machine access (the client-credentials extension of the MCP authorization spec):
 * the runtime gets its own token with a client secret (client_secret_basic) or a JWT signed with
 * its private key (private_key_jwt, RFC 7523), through the MCP SDK's providers. Nobody logs in,
 * so nothing is stored: the token lives in memory and is fetched again when it expires or the
 * server refuses it. With `issuer` configured, the credentials are presented to that
 * authorization server only.
 */
import { readFileSync } from 'node:fs';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  ClientCredentialsProvider,
  PrivateKeyJwtProvider,
} from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { McpAuthConfig } from '../../../contracts.ts';
import { errorMessage, RuntimeError } from '../../../errors.ts';
import { type AuthFlow, type Challenge, expiresSoon, secretFromEnv } from './auth-flow.ts';

type ClientCredentialsConfig = Extract<McpAuthConfig, { type: 'oauth' }> & { grant: 'client_credentials' };

export class ClientCredentialsFlow implements AuthFlow {
  readonly #serverId: string;
  readonly #serverUrl: string;
  readonly #provider: OAuthClientProvider;
  readonly #secret: string | undefined;
  #obtainedAt: number | undefined;
  #fetching: Promise<void> | undefined;

  constructor(
    config: ClientCredentialsConfig,
    serverId: string,
    serverUrl: string,
    env: Readonly<Record<string, string | undefined>>,
  ) {
    this.#serverId = serverId;
    this.#serverUrl = serverUrl;
    const common = {
      clientId: config.client_id!,
      clientName: 'semibot-runtime',
      ...(config.scope ? { scope: config.scope } : {}),
      ...(config.issuer ? { expectedIssuer: config.issuer } : {}),
    };
    this.#secret = config.private_key_file
      ? undefined
      : secretFromEnv(env, config.client_secret_env!, serverId);
    const provider = config.private_key_file
      ? new PrivateKeyJwtProvider({
          ...common,
          privateKey: readPrivateKey(config.private_key_file, serverId),
          algorithm: config.signing_algorithm!,
        })
      : new ClientCredentialsProvider({
          ...common,
          clientSecret: this.#secret!,
        });
    // Note when each token arrived, to fetch the next one before it expires.
    const save = provider.saveTokens.bind(provider);
    provider.saveTokens = (tokens: OAuthTokens) => {
      this.#obtainedAt = Date.now();
      return save(tokens);
    };
    this.#provider = provider;
  }

  async token(): Promise<string | undefined> {
    const tokens = await this.#provider.tokens();
    if (tokens && expiresSoon(tokens, this.#obtainedAt))
      await this.authorize({ stepUp: false }).catch(() => {});
    return (await this.#provider.tokens())?.access_token;
  }

  authorize(challenge: Challenge): Promise<void> {
    this.#fetching ??= this.#fetch(challenge).finally(() => {
      this.#fetching = undefined;
    });
    return this.#fetching;
  }

  secrets(): string[] {
    const out: string[] = [];
    if (this.#secret) out.push(this.#secret);
    const tokens = this.#provider.tokens() as OAuthTokens | undefined;
    if (tokens?.access_token) out.push(tokens.access_token);
    return out;
  }

  async #fetch(challenge: Challenge): Promise<void> {
    let result: string;
    try {
      result = await auth(this.#provider, {
        serverUrl: this.#serverUrl,
        ...(challenge.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : {}),
        ...(challenge.scope ? { scope: challenge.scope } : {}),
      });
    } catch (err) {
      throw new RuntimeError(
        'mcp_authorization_failed',
        `MCP server ${this.#serverId}: the client_credentials grant failed: ${errorMessage(err)}`,
      );
    }
    if (result !== 'AUTHORIZED') {
      throw new RuntimeError(
        'mcp_authorization_failed',
        `MCP server ${this.#serverId}: no token from client_credentials`,
      );
    }
  }
}

function readPrivateKey(file: string, serverId: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RuntimeError(
      'mcp_authorization_failed',
      `MCP server ${serverId}: cannot read private_key_file ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`,
    );
  }
}
