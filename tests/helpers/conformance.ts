/**
 * Runs the official MCP conformance suite (@modelcontextprotocol/conformance) as a child
 * process. The suite needs Node 22+: it runs on Node 24 through scripts/with-node.sh (installed
 * once into a cache folder, as for the package checks), whatever Node runs the tests.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './cli.ts';

const SUITE = path.join(REPO, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const WITH_NODE = path.join(REPO, 'scripts/with-node.sh');

export interface ConformanceCheck {
  id: string;
  name: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
}

export interface ConformanceRun {
  code: number | null;
  output: string;
  checks: ConformanceCheck[];
}

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(WITH_NODE, ['24', 'node', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`conformance ${args.join(' ')} did not finish in ${timeoutMs} ms\n${output}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Installs Node 24 into the cache if it is not there yet (a download the first time). */
export async function ensureNode24(): Promise<void> {
  const { code, output } = await run(['--version'], 300_000);
  if (code !== 0) throw new Error(`could not get Node 24 for the conformance suite:\n${output}`);
}

/** One scenario of the suite (`server` against a URL, or `client` launching a command); its checks. */
export async function conformance(
  kind: 'server' | 'client',
  scenario: string,
  target: { url: string } | { command: string },
  timeoutMs = 120_000,
): Promise<ConformanceRun> {
  const out = await mkdtemp(path.join(tmpdir(), 'semibot-conformance-'));
  try {
    const where = 'url' in target ? ['--url', target.url] : ['--command', target.command];
    const { code, output } = await run([SUITE, kind, ...where, '--scenario', scenario, '-o', out], timeoutMs);
    const checks: ConformanceCheck[] = [];
    // One folder per run; scenario names with a slash (auth/…) nest one level deeper.
    for (const entry of await readdir(out, { recursive: true })) {
      if (path.basename(entry) !== 'checks.json') continue;
      checks.push(...(JSON.parse(await readFile(path.join(out, entry), 'utf8')) as ConformanceCheck[]));
    }
    return { code, output, checks };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
