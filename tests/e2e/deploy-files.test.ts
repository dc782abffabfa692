/**
 * The deployment files, each checked by its own tool (skipped, with the reason printed, when
 * the tool is not installed here): the systemd unit (systemd-analyze verify, and a security
 * exposure of at most 2.0), the nginx site (nginx -t), the logrotate config (logrotate -d);
 * the backup and restore scripts on a temp directory; .env.example and config/production.yaml
 * through config validation.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.ts';
import { ROOT } from './daemon-harness.ts';

const exec = promisify(execFile);
const UNIT = path.join(ROOT, 'deploy/systemd/semibot-runtime.service');
const NGINX_SITE = path.join(ROOT, 'deploy/nginx/semibot.conf');
const LOGROTATE = path.join(ROOT, 'deploy/logrotate/semibot');

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    console.log(`[deploy-files] ${tool} is not installed here: its check is skipped (install it to run it)`);
    return false;
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'semibot-deploy-'));
});
afterAll(async () => rm(tmp, { recursive: true, force: true }));

describe('systemd unit', () => {
  it('has the hardening the deployment guide asks for', async () => {
    const unit = await readFile(UNIT, 'utf8');
    const directives = unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l));
    const value = (key: string) =>
      directives.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
    expect(value('User')[0]).toMatch(/^(?!root$)\w+/);
    expect(value('NoNewPrivileges')).toEqual(['yes']);
    expect(value('ProtectSystem')).toEqual(['strict']);
    expect(value('PrivateTmp')).toEqual(['yes']);
    expect(value('CapabilityBoundingSet')).toEqual(['']);
    expect(value('StateDirectory')).toEqual(['semibot-runtime']);
    expect(value('LogsDirectory')).toEqual(['semibot-runtime']);
    expect(value('MemoryMax')[0]).toMatch(/^\d+[KMG]?$/);
    expect(value('Restart')).toEqual(['on-failure']);
    expect(value('StartLimitBurst')[0]).toMatch(/^\d+$/);
    expect(value('StartLimitIntervalSec')[0]).toMatch(/^\d+$/);
    // MemoryLimit= is deprecated; MemoryDenyWriteExecute= breaks V8's JIT.
    expect(value('MemoryLimit')).toEqual([]);
    expect(value('MemoryDenyWriteExecute')).toEqual([]);
  });

  it.skipIf(!has('systemd-analyze'))('passes systemd-analyze verify', async () => {
    const { stderr } = await exec('systemd-analyze', ['verify', UNIT]);
    expect(stderr).toBe('');
  });

  it.skipIf(!has('systemd-analyze'))('scores at most 2.0 on systemd-analyze security --offline', async () => {
    const { stdout } = await exec('systemd-analyze', ['security', '--offline=true', UNIT]);
    const score = Number(/Overall exposure level for semibot-runtime\.service: ([\d.]+)/.exec(stdout)?.[1]);
    console.log(`[deploy-files] systemd-analyze security exposure: ${score}`);
    expect(score).toBeGreaterThanOrEqual(0);
    expect(score).toBeLessThanOrEqual(2.0);
  });
});

describe('nginx site', () => {
  it.skipIf(!has('nginx'))('passes nginx -t inside a minimal nginx.conf', async () => {
    const prefix = path.join(tmp, 'nginx');
    await mkdir(path.join(prefix, 'logs'), { recursive: true });
    // The site's own log paths are under /var/log/nginx; point them at the temp prefix.
    const site = (await readFile(NGINX_SITE, 'utf8')).replaceAll('/var/log/nginx/', `${prefix}/logs/`);
    await writeFile(path.join(prefix, 'semibot.conf'), site);
    await writeFile(
      path.join(prefix, 'nginx.conf'),
      `pid ${prefix}/nginx.pid;\nerror_log ${prefix}/logs/error.log;\nevents {}\nhttp {\n  include ${prefix}/semibot.conf;\n}\n`,
    );
    const { stderr } = await exec('nginx', ['-t', '-p', prefix, '-c', path.join(prefix, 'nginx.conf')]);
    expect(stderr).toContain('syntax is ok');
    expect(stderr).toContain('test is successful');
  });
});

describe('logrotate config', () => {
  it.skipIf(!has('logrotate'))('passes logrotate -d', async () => {
    const { stderr, stdout } = await exec('logrotate', [
      '-d',
      '-s',
      path.join(tmp, 'logrotate.state'),
      LOGROTATE,
    ]);
    const out = stdout + stderr;
    expect(out).toContain('rotating pattern: /var/log/semibot-runtime/*.log');
    expect(out).not.toMatch(/^error:/m);
  });
});

describe('backup and restore of the file audit logs', () => {
  const script = (name: string) => path.join(ROOT, 'scripts', name);

  it('backs up, restores elsewhere byte for byte, and refuses damaged archives and overwrites', async () => {
    const auditDir = path.join(tmp, 'audit');
    const backups = path.join(tmp, 'backups');
    await mkdir(auditDir, { recursive: true });
    const lines = (n: number, from: number) =>
      Array.from(
        { length: n },
        (_, i) => `${JSON.stringify({ event_id: `e${from + i}`, message: 'Héllo ✓' })}\n`,
      ).join('');
    await writeFile(path.join(auditDir, 'audit.jsonl'), lines(5, 0));
    await writeFile(path.join(auditDir, 'audit.1.jsonl'), lines(3, 100));
    await writeFile(path.join(auditDir, 'not-audit.txt'), 'ignored');

    // 1. Backup.
    const backup = await exec('bash', [script('backup-audit-logs.sh'), '-d', auditDir, '-o', backups]);
    expect(backup.stdout).toContain('2 file(s)');
    const archives = (await readdir(backups)).filter((f) => f.endsWith('.tar.gz'));
    expect(archives).toHaveLength(1);
    const archive = path.join(backups, archives[0]!);

    // 2. Restore into an empty directory: the same bytes.
    const target = path.join(tmp, 'restored');
    await exec('bash', [script('restore-audit-logs.sh'), archive, target]);
    expect((await readdir(target)).sort()).toEqual(['audit.1.jsonl', 'audit.jsonl']);
    for (const f of ['audit.jsonl', 'audit.1.jsonl']) {
      expect(await readFile(path.join(target, f), 'utf8')).toBe(
        await readFile(path.join(auditDir, f), 'utf8'),
      );
    }

    // 3. Not over existing files without --force; with --force, yes.
    await writeFile(path.join(target, 'audit.jsonl'), 'newer\n');
    await expect(exec('bash', [script('restore-audit-logs.sh'), archive, target])).rejects.toMatchObject({
      stderr: expect.stringContaining('use --force'),
    });
    expect(await readFile(path.join(target, 'audit.jsonl'), 'utf8')).toBe('newer\n');
    await exec('bash', [script('restore-audit-logs.sh'), '--force', archive, target]);
    expect(await readFile(path.join(target, 'audit.jsonl'), 'utf8')).toBe(lines(5, 0));

    // 4. A damaged archive is refused and changes nothing.
    const bytes = await readFile(archive);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(archive, bytes);
    const other = path.join(tmp, 'other');
    await expect(exec('bash', [script('restore-audit-logs.sh'), archive, other])).rejects.toMatchObject({
      stderr: expect.stringContaining('does not match its .sha256'),
    });
    expect(await readdir(other).catch(() => [])).toEqual([]);
  });

  it('keeps only the newest KEEP backups and fails clearly on a missing directory', async () => {
    const auditDir = path.join(tmp, 'audit-keep');
    const backups = path.join(tmp, 'backups-keep');
    await mkdir(backups, { recursive: true });
    await mkdir(auditDir, { recursive: true });
    await writeFile(path.join(auditDir, 'audit.jsonl'), '{}\n');
    for (const stamp of ['20200101T000000Z', '20200102T000000Z', '20200103T000000Z']) {
      await writeFile(path.join(backups, `semibot-audit-${stamp}.tar.gz`), 'old');
    }
    await exec('bash', [script('backup-audit-logs.sh'), '-d', auditDir, '-o', backups, '-k', '2']);
    const left = (await readdir(backups)).filter((f) => f.endsWith('.tar.gz')).sort();
    expect(left).toHaveLength(2);
    expect(left[0]).toBe('semibot-audit-20200103T000000Z.tar.gz');
    await expect(
      exec('bash', [script('backup-audit-logs.sh'), '-d', path.join(tmp, 'nope'), '-o', backups]),
    ).rejects.toMatchObject({
      stderr: expect.stringContaining('does not exist'),
    });
  });
});

describe('configuration files', () => {
  it('.env.example passes config validation', async () => {
    const env = parseEnv(await readFile(path.join(ROOT, '.env.example'), 'utf8'));
    const config = loadConfig({ env });
    expect(config.environment).toBe('production');
    expect(config.server).toMatchObject({
      http_port: 8000,
      admin_port: 8901,
      trust_proxy: 'loopback',
      body_limit_bytes: 1024 * 1024,
    });
    expect(Object.values(config.server.api_tokens)).toEqual(['acme']);
  });

  it('config/production.yaml passes config validation with its documented settings', () => {
    const config = loadConfig({ env: { ENVIRONMENT: 'production' } });
    expect(config.audit.storage_type).toBe('database');
    expect(config.server).toMatchObject({
      host: '127.0.0.1',
      http_port: 8000,
      admin_port: 8901,
      trust_proxy: 'loopback',
    });
    expect(config.server.log_file).toMatch(/^\/var\/log\/semibot-runtime\//);
  });
});
