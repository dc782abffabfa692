/**
 * Issue 19, first part: agent profiles in the config (`agents:` or AGENTS_FILE, YAML or JSON),
 * validated at start with errors that name the key: ids once each, MCP servers from the
 * catalogue, built-in tools that exist.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/load.ts';
import { createRuntime } from '../../../src/index.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'semibot-agents-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const catalogue = [{ id: 'files', transport: { type: 'stdio', command: 'node', args: ['server.js'] } }];
const load = (overrides: Record<string, unknown>, env: Record<string, string> = {}) =>
  loadConfig({ env: { ENVIRONMENT: 'test', ...env }, overrides: overrides as never });

describe('agent profiles', () => {
  it('loads profiles with their defaults', () => {
    const config = load({
      mcp: { servers: catalogue },
      agents: [
        {
          id: 'ops-bot',
          tools: ['echo', 'delete_file'],
          mcp_servers: ['files'],
          policy: { max_iterations: 50 },
          orgs: ['acme'],
        },
      ],
    });
    expect(config.agents).toEqual([
      {
        id: 'ops-bot',
        tools: ['echo', 'delete_file'],
        skills: [],
        mcp_servers: ['files'],
        policy: { max_iterations: 50 },
        orgs: ['acme'],
      },
    ]);
  });

  it('reads AGENTS_FILE in YAML or JSON, replacing the YAML key', () => {
    const yamlFile = path.join(dir, 'agents.yaml');
    writeFileSync(yamlFile, '- id: from-yaml\n  tools: [echo]\n');
    const jsonFile = path.join(dir, 'agents.json');
    writeFileSync(jsonFile, JSON.stringify([{ id: 'from-json', tools: ['read_file'] }]));
    expect(load({ agents: [{ id: 'replaced' }] }, { AGENTS_FILE: yamlFile }).agents.map((a) => a.id)).toEqual(
      ['from-yaml'],
    );
    expect(load({}, { AGENTS_FILE: jsonFile }).agents.map((a) => a.id)).toEqual(['from-json']);
  });

  it('refuses bad profiles, naming the key (and the file it came from)', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ agents: [{ id: 'a' }, { id: 'a' }] }, /agents\.1\.id.*duplicate agent id a/],
      [
        { agents: [{ id: 'a', mcp_servers: ['nope'] }] },
        /agents\.0\.mcp_servers\.0.*not an MCP server of the catalogue/,
      ],
      [{ agents: [{ id: 'bad id!' }] }, /agents\.0\.id/],
      [{ agents: [{ id: 'a', policy: { max_iterations: -1 } }] }, /agents\.0\.policy\.max_iterations/],
      [{ agents: [{ id: 'a', unknown: 1 }] }, /agents\.0/],
      [{ agents: { id: 'a' } }, /agents/],
    ];
    for (const [overrides, message] of bad) {
      expect(() => load(overrides), JSON.stringify(overrides)).toThrow(message);
    }
    const notAList = path.join(dir, 'not-a-list.yaml');
    writeFileSync(notAList, 'id: lonely\n');
    expect(() => load({}, { AGENTS_FILE: notAList })).toThrow(
      /AGENTS_FILE.*expected a list of agent profiles/,
    );
    const missing = path.join(dir, 'missing.yaml');
    expect(() => load({}, { AGENTS_FILE: missing })).toThrow(ConfigError);
  });

  it('a profile naming a tool that does not exist stops the runtime at start, naming it', async () => {
    const runtime = createRuntime(
      { agents: [{ id: 'a', tools: ['echo', 'rm_rf'] }] },
      { env: { ENVIRONMENT: 'test' } },
    );
    await expect(runtime.start()).rejects.toThrow(/agents\.0\.tools\.1 = "rm_rf": not a built-in tool/);
  });
});
