/**
 * An MCP session's runtime session comes from the operator's agent profile (agents: /
 * AGENTS_FILE), never from what the client sends: the client picks a profile by its id in the
 * URL (or `mcp --agent`), and the profile fixes the tools, skills, catalogue MCP servers and
 * policy.
 */
import type { Config } from '../../config/schema.ts';
import type { AgentProfile, SessionRequest } from '../contracts.ts';
import { RuntimeError } from '../errors.ts';

/** Without API tokens (development) an MCP session runs in this org unless the profile names its orgs. */
export const DEFAULT_MCP_ORG = 'default';

/**
 * The profile `agentId` names and the org its MCP session runs in: `orgId` (the token's, or
 * `--org`), else (auth off) the profile's first org, else DEFAULT_MCP_ORG. A profile closed to
 * that org is answered exactly like a missing one, so a token learns nothing about other orgs'
 * agents.
 */
export function resolveAgent(
  config: Readonly<Config>,
  agentId: string,
  orgId: string | undefined,
): { profile: AgentProfile; orgId: string } {
  const profile = config.agents.find((a) => a.id === agentId);
  const org = orgId ?? profile?.orgs?.[0] ?? DEFAULT_MCP_ORG;
  if (profile === undefined || (profile.orgs !== undefined && !profile.orgs.includes(org))) {
    throw new RuntimeError('agent_not_found', `no agent profile ${JSON.stringify(agentId)} for org ${org}`);
  }
  return { profile, orgId: org };
}

/**
 * The session request of an MCP session: an external-planner session with the profile's
 * capabilities. The client's name and version (its own words, from initialize) are cut short.
 */
export function profileSessionRequest(
  profile: AgentProfile,
  who: { org_id: string; user_id: string; session_id: string; client?: { name: string; version: string } },
): SessionRequest {
  return {
    org_id: who.org_id,
    user_id: who.user_id,
    agent_id: profile.id,
    session_id: who.session_id,
    agent: { name: profile.name ?? profile.id },
    tools: profile.tools,
    skills: profile.skills,
    mcp_servers: profile.mcp_servers,
    ...(profile.policy ? { policy: profile.policy } : {}),
    planner: { type: 'external' },
    metadata: {
      door: 'mcp',
      ...(who.client
        ? {
            mcp_client: {
              name: String(who.client.name).slice(0, 200),
              version: String(who.client.version).slice(0, 100),
            },
          }
        : {}),
    },
  };
}
