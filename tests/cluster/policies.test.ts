/**
 * Issue 20 in a cluster: every node reads POLICY_DIR and decides the actions of the sessions it
 * owns, so an action sent to one node for a session owned by another is decided the same way.
 * Then `policy replay` reads the trail the nodes wrote to PostgreSQL.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.ts';
import { createAuditStore } from '../../src/audit/stores/index.ts';
import type { ActionResult } from '../../src/index.ts';
import { loadPolicies } from '../../src/runtime.ts';
import { type ReplayChange, replayPolicies } from '../../src/policy/replay.ts';
import { IDS, startCluster, type TestCluster } from './cluster-harness.ts';

const RULES = `@id("no-sleep")
forbid (principal, action, resource == Tool::"sleep");

@id("default-permit")
permit (principal, action, resource);
`;

let c: TestCluster;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'semibot-cluster-policies-'));
  await writeFile(path.join(dir, 'rules.cedar'), RULES);
  c = await startCluster(2, { POLICY_DIR: dir });
}, 120_000);
afterAll(async () => {
  await c?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('Cedar policies in a cluster', () => {
  it("decides an action forwarded to the session's owner with the same policies", async () => {
    const first = c.nodes[0]!;
    // Sessions created at the first node spread over both; use one the other node owns.
    let remote: { session_id: string; owner: string } | undefined;
    for (let i = 0; i < 8 && !remote; i++) {
      const made = await first.call<{ session_id: string; owner: string }>('create', {
        request: { ...IDS, tools: ['echo', 'sleep'] },
      });
      if (made.owner !== first.id) remote = made;
    }
    expect(remote, 'no session landed on the second node').toBeDefined();
    const [denied, allowed] = await first.call<ActionResult[]>('execute', {
      session_id: remote!.session_id,
      actions: [
        { name: 'sleep', params: { ms: 1 } },
        { name: 'echo', params: { message: 'fine' } },
      ],
    });
    expect(denied?.error).toMatchObject({ code: 'policy_denied' });
    expect(denied?.error?.message).toContain('no-sleep');
    expect(allowed?.success).toBe(true);
    await first.call('end', { session_id: remote!.session_id });

    // The owner wrote the decisions into the shared PostgreSQL trail; replay reads them there.
    const config = loadConfig({
      env: { AUDIT_STORAGE_TYPE: 'database', DATABASE_URL: c.db.url, ENVIRONMENT: 'test' },
    });
    const store = createAuditStore(config);
    await store.init();
    try {
      const changes: ReplayChange[] = [];
      const permissive = await mkdtemp(path.join(tmpdir(), 'semibot-cluster-replay-'));
      await writeFile(path.join(permissive, 'all.cedar'), 'permit (principal, action, resource);\n');
      const summary = await replayPolicies(
        store,
        await loadPolicies(permissive),
        { org_id: IDS.org_id },
        (ch) => changes.push(ch),
      );
      await rm(permissive, { recursive: true, force: true });
      expect(summary.by_change).toEqual({ 'denied→allowed': 1 });
      expect(changes[0]).toMatchObject({
        session_id: remote!.session_id,
        action_name: 'sleep',
        recorded: 'denied',
        now: 'allowed',
      });
    } finally {
      await store.close();
    }
  }, 60_000);
});
