/**
 * DNS-rebinding protection of the MCP endpoint (MCP spec, Streamable HTTP security warning): a
 * web page the user visits must not reach a runtime on their machine. A request's Host must be
 * one of MCP_ALLOWED_HOSTS, and its Origin, when a browser sends one, one of MCP_ALLOWED_ORIGINS.
 *
 * An entry `name` matches that host with any port; `name:port` that port only; an Origin entry
 * may also carry a scheme (`https://app.example`), which must then match too. Names are compared
 * as URLs parse them (lower case, IDNA), so look-alike spellings of an allowed name do not pass.
 */

interface HostRule {
  scheme: string | undefined;
  hostname: string;
  /** undefined: any port */
  port: string | undefined;
}

export class HostOriginCheck {
  readonly #hosts: HostRule[];
  readonly #origins: HostRule[];

  constructor(allowedHosts: readonly string[], allowedOrigins: readonly string[]) {
    this.#hosts = allowedHosts.map((entry) => parseRule(entry, 'MCP_ALLOWED_HOSTS'));
    this.#origins = allowedOrigins.map((entry) => parseRule(entry, 'MCP_ALLOWED_ORIGINS'));
  }

  /** undefined when allowed, else why not (for the 403's message). */
  problem(host: string | undefined, origin: string | undefined): string | undefined {
    if (host === undefined || host === '') return 'the request has no Host header';
    const h = parseAuthority(host);
    if (h === undefined || !this.#hosts.some((rule) => matches(rule, undefined, h))) {
      return `Host ${JSON.stringify(host)} is not allowed (MCP_ALLOWED_HOSTS)`;
    }
    if (origin === undefined) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    // "null" (sandboxed frames, file: pages) parses to an opaque origin with no host.
    if (
      url === undefined ||
      url.host === '' ||
      !this.#origins.some((rule) => matches(rule, url.protocol, url))
    ) {
      return `Origin ${JSON.stringify(origin)} is not allowed (MCP_ALLOWED_ORIGINS)`;
    }
    return undefined;
  }
}

function parseRule(entry: string, setting: string): HostRule {
  const hasScheme = entry.includes('://');
  let url: URL;
  try {
    url = new URL(hasScheme ? entry : `http://${entry}`);
  } catch {
    throw new Error(`${setting}: ${JSON.stringify(entry)} is not a host name, host:port or origin`);
  }
  const explicitPort = /:\d+$/.test(hasScheme ? url.host : entry);
  return {
    scheme: hasScheme ? url.protocol : undefined,
    hostname: url.hostname,
    port: explicitPort ? url.port || defaultPort(url.protocol) : undefined,
  };
}

function parseAuthority(authority: string): URL | undefined {
  try {
    const url = new URL(`http://${authority}`);
    // "host/path" or "user@host" would parse: a Host header is an authority and nothing else.
    return url.host.toLowerCase() === authority.toLowerCase() || `${url.host}:80` === authority.toLowerCase()
      ? url
      : undefined;
  } catch {
    return undefined;
  }
}

function matches(rule: HostRule, scheme: string | undefined, url: URL): boolean {
  if (rule.scheme !== undefined && rule.scheme !== scheme) return false;
  if (rule.hostname !== url.hostname) return false;
  return rule.port === undefined || rule.port === (url.port || defaultPort(scheme ?? url.protocol));
}

function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
}
