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
 * The profile `agentId` names, if `orgId` may use it. A profile closed to the org is answered
 * exactly like a missing one, so a token learns nothing about other orgs' agents.
 */
export function agentProfile(config: Readonly<Config>, agentId: string, orgId: string): AgentProfile {
  const profile = config.agents.find((a) => a.id === agentId);
  if (profile === undefined || (profile.orgs !== undefined && !profile.orgs.includes(orgId))) {
    throw new RuntimeError('agent_not_found', `no agent profile ${JSON.stringify(agentId)} for org ${orgId}`);
  }
  return profile;
}

/** The org of an MCP session: the token's, or (auth off) the profile's first org, else DEFAULT_MCP_ORG. */
export function mcpSessionOrg(tokenOrg: string | undefined, profile: AgentProfile | undefined): string {
  return tokenOrg ?? profile?.orgs?.[0] ?? DEFAULT_MCP_ORG;
}

/** The session request of an MCP session: an external-planner session with the profile's capabilities. */
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
    metadata: { door: 'mcp', ...(who.client ? { mcp_client: who.client } : {}) },
  };
}
