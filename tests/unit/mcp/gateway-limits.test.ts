/** The gateway enforces max_mcp_servers_per_org per org, before it connects anything. */
import { pino } from 'pino';
import { sessionKey } from '../../../src/session-key.ts';
import { describe, expect, it } from 'vitest';
import { McpGateway } from '../../../actors/mcp-gateway/gateway.ts';
import { loadConfig } from '../../../config/load.ts';

const config = loadConfig({
  env: { ENVIRONMENT: 'test' },
  overrides: {
    capability: { max_mcp_servers_per_org: 1 },
    mcp: { connection_timeout: 1, reconnect_delay: 60 },
  },
});
const server = (id: string) => ({
  id,
  transport: { type: 'http' as const, url: `http://127.0.0.1:9/${id}` },
});

describe('McpGateway.acquire', () => {
  it('refuses a second server for the org while the first is in use, and allows it after release', async () => {
    const gateway = new McpGateway(config, pino({ level: 'silent' }));
    try {
      const [first] = await gateway.acquire(sessionKey('acme', 's1'), 'acme', [server('a')]);
      expect(first).toMatchObject({ server_id: 'a', connected: false });
      await expect(gateway.acquire(sessionKey('acme', 's2'), 'acme', [server('b')])).rejects.toMatchObject({
        code: 'too_many_mcp_servers',
        data: { org_id: 'acme', servers: 2, max: 1 },
      });
      await gateway.acquire(sessionKey('globex', 's3'), 'globex', [server('b')]);
      gateway.release(sessionKey('acme', 's1'));
      await gateway.acquire(sessionKey('acme', 's2'), 'acme', [server('b')]);
      const outcome = await gateway.call('h', {
        type: 'mcp.call',
        call: 1,
        key: 'nope',
        session: sessionKey('acme', 's2'),
        tool: 'x',
        args: {},
      });
      expect(outcome).toMatchObject({ ok: false, error: { code: 'mcp_unavailable' } });
    } finally {
      await gateway.close();
    }
  });
});
