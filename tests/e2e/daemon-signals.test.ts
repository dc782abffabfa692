/**
 * The daemon's signals, on a child process:
 * - SIGTERM with N audit events still buffered (a long flush interval) stores all of them,
 *   lets an action in flight finish, is not held open by an idle keep-alive socket, exits 0;
 * - SIGHUP reopens LOG_FILE after logrotate renamed it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.ts';
import { type DaemonProcess, ROOT, call, startDaemon, waitFor } from './daemon-harness.ts';

const run = promisify(execFile);
function hasLogrotate(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v logrotate'], { stdio: 'ignore' });
    return true;
  } catch {
    console.log('[daemon-signals] logrotate is not installed: rotating by hand (rename + SIGHUP)');
    return false;
  }
}

let dir: string;
let daemon: DaemonProcess | undefined;
afterEach(async () => {
  daemon?.kill();
  daemon = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function storedEvents(auditDir: string): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for (const f of (await readdir(auditDir).catch(() => [])).filter((n) => n.endsWith('.jsonl'))) {
    for (const line of (await readFile(path.join(auditDir, f), 'utf8')).split('\n'))
      if (line.trim()) events.push(JSON.parse(line));
  }
  return events;
}

describe('SIGTERM', () => {
  it('stores every buffered audit event, finishes the action in flight, ignores an idle keep-alive socket and exits 0', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-sigterm-'));
    const auditDir = path.join(dir, 'audit');
    daemon = await startDaemon({
      AUDIT_STORAGE_TYPE: 'file',
      AUDIT_LOG_DIR: auditDir,
      SANDBOX_DIR: path.join(dir, 'sandbox'),
      // Nothing is written until shutdown: an hour between flushes, batches far larger than N,
      // and answers that do not wait for their events (relaxed; strict would store each first).
      AUDIT_DURABILITY: 'relaxed',
      AUDIT_FLUSH_INTERVAL: '3600',
      AUDIT_BATCH_SIZE: '1000000',
      API_TOKENS: 'tok=acme',
    });
    const { api } = daemon;
    const N = 200;

    // 1. N echo actions in an external session; each answered, none yet stored.
    const { body } = await call<{ session_id: string }>(api, 'tok', 'POST', '/v1/sessions', {
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'a',
      tools: ['echo', 'sleep'],
    });
    const id = body.session_id;
    for (let i = 0; i < N; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) => ({
        id: `echo-${i + j}`,
        name: 'echo',
        params: { message: `m${i + j}` },
      }));
      const res = await call<{ results: Array<{ success: boolean }> }>(
        api,
        'tok',
        'POST',
        `/v1/sessions/${id}/actions`,
        batch,
      );
      expect(res.body.results.every((r) => r.success)).toBe(true);
    }
    expect((await storedEvents(auditDir)).length).toBe(0);

    // 2. A keep-alive socket that has done one request and now sits idle.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${daemon!.admin}/version`, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    let idleClosed = false;
    for (const sockets of Object.values(agent.freeSockets))
      for (const s of sockets ?? []) s.on('close', () => (idleClosed = true));
    expect(Object.values(agent.freeSockets).flat().length).toBe(1);

    // 3. An action in flight when the signal comes.
    const sleeping = call<{ results: Array<{ success: boolean; result: unknown }> }>(
      api,
      'tok',
      'POST',
      `/v1/sessions/${id}/actions`,
      [{ id: 'slow', name: 'sleep', params: { ms: 1500 } }],
    );
    // (the sleep has started once the daemon counts it as buffered audit: action_started)
    await waitFor(
      () => fetch(`${daemon!.admin}/metrics`).then((r) => r.text()),
      (text) =>
        /^runtime_audit_buffer_size (\d+)$/m.exec(text)?.[1] !== undefined &&
        Number(/^runtime_audit_buffer_size (\d+)$/m.exec(text)![1]) > 2 * N + 2,
    );
    daemon.proc.kill('SIGTERM');

    // 4. The action finishes, the process exits 0 (well before the 72 s keep-alive timeout).
    const slow = await sleeping;
    expect(slow.status).toBe(200);
    expect(slow.body.results[0]).toMatchObject({ success: true, result: { slept_ms: 1500 } });
    const exit = await daemon.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(idleClosed).toBe(true);
    agent.destroy();

    // 5. Every event is in storage: N + 1 completed actions, and the session's end.
    const stored = (await storedEvents(auditDir)).filter((e) => e.session_id === id);
    const completed = stored.filter((e) => e.event_type === 'action_completed').map((e) => e.action_id);
    expect(new Set(completed).size).toBe(N + 1);
    expect(completed).toContain('slow');
    expect(stored.filter((e) => e.event_type === 'session_ended')).toHaveLength(1);
    const seqs = stored.map((e) => e.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(daemon.output()).toContain('stopped: every audit event is stored');
  }, 60_000);
});

describe('SIGHUP', () => {
  it('reopens the log file that logrotate renamed', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-sighup-'));
    const logFile = path.join(dir, 'log', 'semibot-runtime.log');
    daemon = await startDaemon({
      AUDIT_STORAGE_TYPE: 'memory',
      LOG_FILE: logFile,
      ERROR_LOG_FILE: path.join(dir, 'log', 'error.log'),
    });
    expect(await readFile(logFile, 'utf8')).toContain('semibot-runtime listening');

    // logrotate itself with deploy/logrotate/semibot (its path and reload pointed at this daemon),
    // or by hand (rename, then SIGHUP) where logrotate is not installed.
    let rotated = `${logFile}.1`;
    if (hasLogrotate()) {
      const conf = (await readFile(path.join(ROOT, 'deploy/logrotate/semibot'), 'utf8'))
        .replace('/var/log/semibot-runtime/*.log', path.join(dir, 'log', '*.log'))
        .replace(/systemctl reload semibot-runtime\.service/, `kill -HUP ${daemon.proc.pid}`);
      await writeFile(path.join(dir, 'logrotate.conf'), conf);
      await run('logrotate', [
        '-f',
        '-s',
        path.join(dir, 'logrotate.state'),
        path.join(dir, 'logrotate.conf'),
      ]);
      const names = await readdir(path.join(dir, 'log'));
      rotated = path.join(dir, 'log', names.find((n) => n.startsWith('semibot-runtime.log-'))!);
    } else {
      await rename(logFile, rotated);
      daemon.proc.kill('SIGHUP');
    }
    const reopened = await waitFor(
      () => readFile(logFile, 'utf8').catch(() => ''),
      (text) => text.includes('log files reopened'),
    );
    expect(reopened).toContain('log files reopened');
    const old = await readFile(rotated, 'utf8');
    expect(old).toContain('semibot-runtime listening');
    expect(old).not.toContain('log files reopened');

    daemon.proc.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    expect(await readFile(logFile, 'utf8')).toContain('stopped');
    // Nothing failed, so the error log holds nothing.
    expect(await readFile(path.join(dir, 'log', 'error.log'), 'utf8')).toBe('');
  }, 30_000);
});

describe('drain timeout', () => {
  it('cancels an action still running when DRAIN_TIMEOUT_SECONDS runs out, audits it, and still exits 0', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'semibot-drain-'));
    const auditDir = path.join(dir, 'audit');
    daemon = await startDaemon({
      AUDIT_STORAGE_TYPE: 'file',
      AUDIT_LOG_DIR: auditDir,
      SANDBOX_DIR: path.join(dir, 'sandbox'),
      DRAIN_TIMEOUT_SECONDS: '1',
      API_TOKENS: 'tok=acme',
    });
    const { body } = await call<{ session_id: string }>(daemon.api, 'tok', 'POST', '/v1/sessions', {
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'a',
      tools: ['sleep'],
    });
    const id = body.session_id;
    // 1. An action far longer than the drain timeout.
    const long = call<{ results: Array<{ success: boolean; error?: { code: string } }> }>(
      daemon.api,
      'tok',
      'POST',
      `/v1/sessions/${id}/actions`,
      [{ id: 'long', name: 'sleep', params: { ms: 60_000 } }],
    );
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    daemon.proc.kill('SIGTERM');
    // 2. It is cancelled, answered, and the daemon exits 0 long before the action would have ended.
    const answer = await long;
    expect(answer.body.results[0]).toMatchObject({ success: false, error: { code: 'action_cancelled' } });
    expect((await daemon.exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
    // 3. The cancellation is in the audit trail, with the session's end.
    const stored = (await storedEvents(auditDir)).filter((e) => e.session_id === id);
    const failed = stored.find((e) => e.action_id === 'long' && e.event_type === 'action_failed');
    expect(failed?.metadata.error_code).toBe('action_cancelled');
    expect(stored.find((e) => e.event_type === 'session_ended')?.metadata.state).toBe('cancelled');
  }, 60_000);
});
