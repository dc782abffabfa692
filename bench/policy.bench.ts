/**
 * What Cedar policies cost per action (issue 20): the same load through two runtimes in one
 * process run, one without POLICY_DIR and one with a 20-policy set (org and agent rules, params
 * rules for write_file, an iteration limit that reads context for every tool, a default permit),
 * taking turns round by round so both see the same machine. File store, strict durability.
 *
 *   npm run bench -- policy [--sessions 256] [--actions 100] [--rounds 3] [--tool echo|write_file]
 *
 * Goal: ≤ 15% throughput cost at 256 sessions. The set is compiled once per load in each worker;
 * --tool write_file measures the worst case, where every action has params a policy reads (each
 * one evaluated by Cedar: no cached verdict fits new params).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntime, type Runtime } from '../src/index.ts';
import { alternatingLoad } from './session-load.ts';
import { round } from './stats.ts';

export const description =
  'Cedar policies (20-policy set) vs no policies: throughput and latency at many sessions';

const IDS = { org_id: 'bench-org', user_id: 'bench-user', agent_id: 'bench-agent' };

/** Twenty policies of the kinds an operator writes; most never read context. */
export function benchPolicies(): string {
  const orgRules = ['acme', 'globex', 'initech', 'umbrella', 'hooli'].map(
    (org, i) => `@id("org-${org}-no-${i % 2 ? 'http' : 'exec'}")
forbid (principal in Org::"${org}", action, resource == Tool::"${i % 2 ? 'http_request' : 'execute_code'}");`,
  );
  const agentRules = ['viewer', 'auditor', 'intern'].map(
    (agent) => `@id("${agent}-read-only")
forbid (principal == Agent::"${agent}", action, resource) when { resource.risk != "read_only" };`,
  );
  const more = [
    `@id("deletes-need-a-person")\n@approval("required")\npermit (principal, action, resource == Tool::"delete_file");`,
    `@id("secrets-need-a-person")\n@approval("required")\npermit (principal, action, resource == Tool::"write_file") when { context.params has path && context.params.path like "secrets/*" };`,
    `@id("no-private-keys")\nforbid (principal, action, resource == Tool::"write_file") when { context.params has content && context.params.content like "*PRIVATE KEY*" };`,
    `@id("no-env-files")\nforbid (principal, action, resource == Tool::"write_file") when { context.params has path && context.params.path like "*.env" };`,
    `@id("iteration-cap")\nforbid (principal, action, resource) when { context.iteration > 5000 };`,
    `@id("mcp-read-only-for-bots")\nforbid (principal, action, resource) when { resource.kind == "mcp" && resource.risk == "high" && principal.user == "bot" };`,
    `@id("no-skills-for-guests")\nforbid (principal, action, resource) when { resource.kind == "skill" && principal.user == "guest" };`,
    `@id("no-sleep-in-prod")\nforbid (principal in Org::"prod", action, resource == Tool::"sleep");`,
    `@id("crm-only-for-sales")\nforbid (principal, action, resource) when { resource.server == "crm" && principal.org != "sales" };`,
    `@id("high-risk-needs-ops")\nforbid (principal, action, resource) when { resource.risk == "high" && principal.org == "guests" };`,
    `@id("nothing-for-blocked")\nforbid (principal in Org::"blocked", action, resource);`,
    `@id("default-permit")\npermit (principal, action, resource);`,
  ];
  return [...orgRules, ...agentRules, ...more].join('\n\n');
}

type Mode = 'without' | 'with';

export async function run(options: Record<string, string>): Promise<Record<string, unknown>> {
  const sessions = Number(options.sessions ?? 256);
  const actionsPerSession = Number(options.actions ?? 100);
  const rounds = Number(options.rounds ?? 3);
  const tool = options.tool === 'write_file' ? 'write_file' : 'echo';
  const dir = await mkdtemp(path.join(tmpdir(), 'semibot-bench-policy-'));
  const policyDir = path.join(dir, 'policies');
  await mkdir(policyDir);
  await writeFile(path.join(policyDir, 'bench.cedar'), benchPolicies());
  const runtimes = {} as Record<Mode, Runtime>;
  try {
    for (const mode of ['without', 'with'] as const) {
      runtimes[mode] = createRuntime(
        {
          log_level: 'warn',
          ...(mode === 'with' ? { policy_dir: policyDir } : {}),
          audit: { storage_type: 'file', log_dir: path.join(dir, mode, 'audit') },
          runtime: { workers: 2, sandbox_dir: path.join(dir, mode, 'sandbox'), max_sessions: sessions + 10 },
          policy: { max_iterations: 100_000, max_concurrent_actions: 64 },
        },
        { env: { ENVIRONMENT: 'test' } },
      );
      await runtimes[mode].start();
    }
    const results = await alternatingLoad({
      runtimes,
      request: { ...IDS, tools: [tool] },
      sessions,
      actions: actionsPerSession,
      rounds,
      tool,
      params: (si, i) =>
        tool === 'echo' ? { message: `${si}-${i}` } : { path: `f${si}-${i % 8}.txt`, content: `${si}-${i}` },
    });
    const without = results.without;
    const withPolicies = results.with;
    const ratio = withPolicies.median_actions_per_s / without.median_actions_per_s;
    return {
      tool,
      sessions,
      actions_per_session: actionsPerSession,
      policies: 20,
      without_policies: without,
      with_policies: withPolicies,
      with_vs_without_throughput: round(ratio, 3),
      throughput_cost_percent: round((1 - ratio) * 100, 1),
      goal: 'at most 15% throughput cost at 256 sessions with a 20-policy set',
      meets_goal: ratio >= 0.85,
    };
  } finally {
    for (const runtime of Object.values(runtimes)) await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
