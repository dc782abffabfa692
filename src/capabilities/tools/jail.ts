/**
 * The OS-level confinement of execute_code (issue 15), on top of Node's permission model:
 *
 *   session worker ──spawn (uid 65534 when the runtime is root)──► prlimit  (rlimits)
 *     ──exec──► bwrap (new user, PID, network, IPC, UTS namespaces; only /usr and node bound
 *               read-only, the session sandbox read-write, the script read-only)
 *       ──exec──► node --permission … main.mjs
 *
 * What each layer takes away:
 * - PID namespace: no runtime process can be seen, signalled or traced (the code is PID 2, its
 *   parent the namespace's init).
 * - network namespace: no network at all unless the session policy says execute_code_network.
 * - the mount namespace: nothing of the host but /usr (and the node binary's folder); writes
 *   land only in the session's sandbox.
 * - rlimits: total data memory (RLIMIT_DATA, so Buffers and native allocations count, not only
 *   the V8 heap), CPU seconds, processes (the uid's RLIMIT_NPROC, which binds only a non-root
 *   uid: hence 65534), file size, no core dumps.
 *
 * Where bubblewrap is missing or namespaces are refused, execute_code is refused with
 * sandbox_unavailable: it never runs unconfined. The probe runs once per launcher per thread.
 */
import { spawn } from 'node:child_process';
import { lstatSync, readlinkSync } from 'node:fs';
import { chown } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '../../errors.ts';

/** The uid and gid the code runs as when the runtime runs as root ("nobody" on Debian). */
export const JAIL_UID = 65534;

export interface JailLimits {
  /** bubblewrap's command name or path (EXECUTE_CODE_BWRAP) */
  bwrap: string;
  /** RLIMIT_DATA of the whole child, in MiB */
  maxTotalMemoryMb: number;
  /** RLIMIT_NPROC of the jail's uid */
  maxProcesses: number;
  /** RLIMIT_FSIZE: the largest file the code may write */
  maxFileBytes: number;
}

export interface JailRun {
  sandbox: string;
  scratch: string;
  /** the node arguments (permission flags, script) */
  nodeArgs: string[];
  /** the session policy's execute_code_network */
  network: boolean;
  timeoutMs: number;
}

const probes = new Map<string, Promise<string | undefined>>();
const asRoot = process.getuid?.() === 0;

/** Resolves when the jail can run here; rejects with sandbox_unavailable (and why) when not. */
export async function assertJailAvailable(bwrap: string): Promise<void> {
  let probe = probes.get(bwrap);
  if (!probe) {
    probe = probeJail(bwrap);
    probes.set(bwrap, probe);
  }
  const problem = await probe;
  if (problem !== undefined) {
    throw new RuntimeError(
      'sandbox_unavailable',
      `execute_code cannot be confined here, so it does not run: ${problem}`,
    );
  }
}

/** One confined `true`: bubblewrap present, namespaces allowed for the jail's uid. */
function probeJail(bwrap: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(bwrap, ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', '--', 'true'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '' },
      ...(asRoot ? { uid: JAIL_UID, gid: JAIL_UID } : {}),
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    child.on('error', (err) => resolve(`${bwrap} could not be started (${err.message}); install bubblewrap`));
    child.on('close', (code) =>
      resolve(code === 0 ? undefined : `${bwrap} exited ${code}: ${stderr.trim().split('\n')[0] ?? ''}`),
    );
  });
}

/** Gives the jail's uid the folders it must write (sandbox) or read (the scratch script). */
export async function prepareJailFolders(sandbox: string, scratch: string, script: string): Promise<void> {
  if (!asRoot) return;
  await chown(sandbox, JAIL_UID, JAIL_UID);
  await chown(scratch, JAIL_UID, JAIL_UID);
  await chown(script, JAIL_UID, JAIL_UID);
}

/** The command line that runs node confined: prlimit, then bwrap, then node. */
export function jailCommand(
  limits: JailLimits,
  run: JailRun,
): { command: string; args: string[]; uid?: number } {
  const nodeDir = path.dirname(process.execPath);
  const cpuSeconds = Math.ceil(run.timeoutMs / 1000) + 1;
  const args = [
    `--data=${limits.maxTotalMemoryMb * 1024 * 1024}`,
    `--cpu=${cpuSeconds}`,
    `--nproc=${limits.maxProcesses}`,
    `--fsize=${limits.maxFileBytes}`,
    '--core=0',
    '--',
    limits.bwrap,
    '--ro-bind',
    '/usr',
    '/usr',
    ...rootLinks(),
    ...(nodeDir.startsWith('/usr/') ? [] : ['--ro-bind', nodeDir, nodeDir]),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--unshare-all',
    ...(run.network ? ['--share-net', '--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf'] : []),
    '--die-with-parent',
    '--new-session',
    '--bind',
    run.sandbox,
    run.sandbox,
    '--ro-bind',
    run.scratch,
    run.scratch,
    '--',
    // bwrap sets PWD after every option; the child's environment is PATH alone (execute-code.ts).
    '/usr/bin/env',
    '-u',
    'PWD',
    process.execPath,
    ...run.nodeArgs,
  ];
  return { command: 'prlimit', args, ...(asRoot ? { uid: JAIL_UID } : {}) };
}

/**
 * /bin, /lib, /lib64 and /sbin as the host has them: the same links on a merged-/usr system,
 * read-only binds where they are folders of their own. Read once: they do not change.
 */
const ROOT_LINKS: readonly string[] = ['bin', 'lib', 'lib64', 'sbin'].flatMap((name) => {
  const host = `/${name}`;
  try {
    if (lstatSync(host).isSymbolicLink()) return ['--symlink', readlinkSync(host), host];
    return ['--ro-bind', host, host];
  } catch {
    return [];
  }
});

function rootLinks(): readonly string[] {
  return ROOT_LINKS;
}
