/**
 * Issue 19: the official MCP conformance suite's server scenarios that apply to a gateway
 * (initialize, ping, tools-list, DNS rebinding, several SSE streams at once) against the
 * runtime's /mcp/:agent_id, as a development install runs it: no tokens, loopback only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformance, ensureNode24 } from '../helpers/conformance.ts';
import { type Harness, startHarness } from '../unit/api/api-harness.ts';

const SCENARIOS = [
  'server-initialize',
  'ping',
  'tools-list',
  'dns-rebinding-protection',
  'server-sse-multiple-streams',
];

describe('issue-19: MCP conformance suite, server scenarios against /mcp/:agent_id', () => {
  let h: Harness;
  let url: string;

  beforeAll(async () => {
    await ensureNode24();
    h = await startHarness(
      { api_tokens: {} },
      { agents: [{ id: 'conformance', tools: ['echo', 'read_file'], policy: { max_iterations: 100_000 } }] },
    );
    await h.api.listen({ port: 0, host: 'localhost' });
    const address = h.api.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    // The DNS-rebinding scenario only runs against a localhost URL.
    url = `http://localhost:${address.port}/mcp/conformance`;
  }, 360_000);
  afterAll(async () => {
    await h?.close();
  });

  it.each(SCENARIOS)(
    '%s passes every check',
    async (scenario) => {
      const { code, output, checks } = await conformance('server', scenario, { url });
      const failed = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
      expect(failed, output).toEqual([]);
      expect(checks.filter((c) => c.status === 'SUCCESS').length).toBeGreaterThan(0);
      expect(code, output).toBe(0);
    },
    120_000,
  );
});
