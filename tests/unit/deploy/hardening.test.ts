/**
 * Start-up hardening checks (src/hardening.ts) on real temporary files and modes, and the
 * daemon logging each finding as a warning at start-up.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/load.ts';
import { Daemon } from '../../../src/daemon/daemon.ts';
import { checkHardening, databaseTlsFinding } from '../../../src/hardening.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'semibot-hardening-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function setup(envMode: number, auditMode: number, env: Record<string, string> = {}) {
  const envFile = path.join(dir, 'semibot.env');
  await writeFile(envFile, 'API_TOKENS=secret-token=acme\n');
  await chmod(envFile, envMode);
  const auditDir = path.join(dir, 'audit');
  await mkdir(auditDir);
  await chmod(auditDir, auditMode);
  const config = loadConfig({ env: { ENV_FILE: envFile, AUDIT_LOG_DIR: auditDir, ...env }, configDir: dir });
  return { envFile, auditDir, config };
}

describe('hardening checks at start-up', () => {
  it('warns in production when AUDIT_SIGNING_KEY is not set (checkpoints would be unsigned)', async () => {
    const key = `k1:hmac:${Buffer.alloc(32, 7).toString('base64')}`;
    const bare = await setup(0o600, 0o750, { ENVIRONMENT: 'production' });
    expect(
      checkHardening({ config: bare.config, envFile: bare.envFile, configDir: dir, platform: 'linux' }).map(
        (f) => f.check,
      ),
    ).toContain('audit_signing_key');
    const signedConfig = loadConfig({
      env: { ENV_FILE: bare.envFile, AUDIT_LOG_DIR: bare.auditDir, ENVIRONMENT: 'production', AUDIT_SIGNING_KEY: key },
      configDir: dir,
    });
    expect(
      checkHardening({
        config: signedConfig,
        envFile: bare.envFile,
        configDir: dir,
        platform: 'linux',
      }).map((f) => f.check),
    ).not.toContain('audit_signing_key');
  });

  it('finds nothing on a private env file, a private audit directory and a local database', async () => {
    const { envFile, config } = await setup(0o600, 0o750, {
      DATABASE_URL: 'postgres://semibot@127.0.0.1:5432/semibot',
    });
    expect(checkHardening({ config, envFile, configDir: dir, platform: 'linux' })).toEqual([]);
  });

  it('warns when the env file is readable by group or others, naming the file and chmod 600', async () => {
    for (const mode of [0o644, 0o640, 0o604]) {
      const { envFile, config } = await setup(mode, 0o750);
      const findings = checkHardening({ config, envFile, configDir: dir, platform: 'linux' });
      expect(findings.map((f) => f.check)).toEqual(['secret_file_mode']);
      expect(findings[0]!.message).toContain(`chmod 600 ${envFile}`);
      await rm(path.join(dir, 'audit'), { recursive: true });
    }
  });

  it('warns about a config file only when it holds secrets', async () => {
    const { envFile, config } = await setup(0o600, 0o750);
    const yaml = path.join(dir, 'development.yaml');
    await writeFile(yaml, 'audit:\n  batch_size: 10\n');
    await chmod(yaml, 0o644);
    expect(checkHardening({ config, envFile, configDir: dir, platform: 'linux' })).toEqual([]);
    await writeFile(yaml, 'server:\n  api_tokens:\n    abc: acme\n');
    const findings = checkHardening({ config, envFile, configDir: dir, platform: 'linux' });
    expect(findings.map((f) => f.subject)).toEqual([yaml]);
    await writeFile(yaml, 'database:\n  url: postgres://semibot:pw@127.0.0.1/semibot\n');
    expect(checkHardening({ config, envFile, configDir: dir, platform: 'linux' })).toHaveLength(1);
    // the key that seals upstream MCP servers' OAuth tokens (issue 22) is a secret too
    await writeFile(yaml, 'mcp:\n  token_key: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n');
    expect(checkHardening({ config, envFile, configDir: dir, platform: 'linux' })).toHaveLength(1);
    await chmod(yaml, 0o600);
    expect(checkHardening({ config, envFile, configDir: dir, platform: 'linux' })).toEqual([]);
  });

  it('warns when the audit log directory is world-writable', async () => {
    const { envFile, auditDir, config } = await setup(0o600, 0o777);
    const findings = checkHardening({ config, envFile, configDir: dir, platform: 'linux' });
    expect(findings).toEqual([
      expect.objectContaining({
        check: 'audit_dir_mode',
        subject: auditDir,
        message: expect.stringContaining('world-writable (mode 0777)'),
      }),
    ]);
  });

  it('skips file modes on Windows, where they mean nothing', async () => {
    const { envFile, config } = await setup(0o644, 0o777);
    expect(checkHardening({ config, envFile, configDir: dir, platform: 'win32' })).toEqual([]);
  });

  it('asks for sslmode=verify-full when DATABASE_URL names another host', () => {
    expect(databaseTlsFinding('postgres://u:p@db.internal:5432/semibot')?.message).toMatch(
      /db\.internal .*without sslmode.*sslmode=verify-full&sslrootcert=/,
    );
    expect(databaseTlsFinding('postgres://u:p@db.internal/semibot?sslmode=require')?.message).toContain(
      'with sslmode=require',
    );
    expect(databaseTlsFinding('postgres://u:p@10.0.0.5/semibot?sslmode=disable')).toBeDefined();
    // the password never appears in the warning
    expect(databaseTlsFinding('postgres://u:hunter2@db.internal/semibot')?.message).not.toContain('hunter2');
    expect(
      databaseTlsFinding('postgres://u@db.internal/semibot?sslmode=verify-full&sslrootcert=/etc/ca.pem'),
    ).toBeUndefined();
    for (const local of [
      'postgres://u@127.0.0.1/semibot',
      'postgres://u@localhost:5432/semibot',
      'postgres://u@[::1]/semibot',
      'postgres:///semibot?host=/run/postgresql',
    ]) {
      expect(databaseTlsFinding(local), local).toBeUndefined();
    }
    expect(databaseTlsFinding(undefined)).toBeUndefined();
  });

  it('the daemon logs every finding as a warning when it starts up', async () => {
    const envFile = path.join(dir, 'semibot.env');
    const logFile = path.join(dir, 'daemon.log');
    await writeFile(
      envFile,
      `ENVIRONMENT=development\nLOG_FILE=${logFile}\nDATABASE_URL=postgres://u@db.example.com/semibot\nAUDIT_LOG_DIR=${path.join(dir, 'audit')}\n`,
    );
    await chmod(envFile, 0o644);
    const daemon = new Daemon({ env: { ENV_FILE: envFile }, configDir: dir });
    expect(daemon.state).toBe('starting');
    const warnings = (await readFile(logFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: number; check: string; msg: string })
      .filter((l) => l.level === 40);
    expect(warnings.map((w) => w.check).sort()).toEqual(['database_tls', 'secret_file_mode']);
  });
});
