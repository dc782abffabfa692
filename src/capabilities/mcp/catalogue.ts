/**
 * The operator's catalogue of MCP servers (`mcp.servers` in the YAML config, or
 * MCP_SERVERS_FILE): the only place a server's transport — the program it starts, the URL it
 * calls — comes from when a session is requested over the API (issue 15: one org's token used to
 * run /bin/sh by naming it as a stdio server).
 *
 *   request mcp_servers: ["github", {"id": "files"}]  ──resolve──►  catalogue entries (orgs checked)
 *   request mcp_servers: [{id, transport: …}]          ──API──►      403 mcp_server_not_allowed
 *                                                      ──library / CLI run──► used as given
 */
import type { McpCatalogueEntry, McpServerConfig, McpServerRequest } from '../../contracts.ts';
import { RuntimeError } from '../../errors.ts';

export interface ResolveOptions {
  /** full entries (a transport in the request) are the operator's power: library and CLI only */
  allowFullEntries: boolean;
}

/** The servers a session will use, with their transports; refuses what the caller may not name. */
export function resolveMcpServers(
  requested: readonly McpServerRequest[],
  catalogue: readonly McpCatalogueEntry[],
  orgId: string,
  { allowFullEntries }: ResolveOptions,
): McpServerConfig[] {
  return requested.map((entry, i) => {
    if (typeof entry === 'object' && 'transport' in entry) {
      if (allowFullEntries) return entry;
      throw new RuntimeError(
        'mcp_server_not_allowed',
        `mcp_servers.${i}: a request names MCP servers of the operator's catalogue by id; ` +
          'a transport (a command to start, a URL to call) comes only from the configuration',
        { index: i },
      );
    }
    const id = typeof entry === 'string' ? entry : entry.id;
    const found = catalogue.find((server) => server.id === id);
    // One answer for "no such server" and "not for your org": a tenant cannot learn which
    // servers other orgs have.
    if (!found || (found.orgs !== undefined && !found.orgs.includes(orgId))) {
      throw new RuntimeError(
        'mcp_server_not_allowed',
        `mcp_servers.${i}: no MCP server ${JSON.stringify(id)} in the catalogue for org ${JSON.stringify(orgId)}`,
        { index: i },
      );
    }
    const { orgs: _orgs, ...server } = found;
    return server;
  });
}
