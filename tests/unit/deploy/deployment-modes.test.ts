/**
 * The three deployment modes of the guide: each checked-in `.env.<mode>.example`, loaded
 * through ENV_FILE exactly as an operator would, passes validation and lands on the storage
 * the guide promises for that mode (with config/<mode>.yaml under it).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/load.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const envFile = (mode: string) => path.join(root, `.env.${mode}.example`);

describe('deployment modes', () => {
  it('development: file audit storage, debug logs, no database', () => {
    const c = loadConfig({ env: { ENV_FILE: envFile('development') } });
    expect(c.environment).toBe('development');
    expect(c.log_level).toBe('debug');
    expect(c.audit.storage_type).toBe('file');
    expect(c.database.url).toBeUndefined();
  });

  it('testing: database storage from config/testing.yaml and the env file', () => {
    const c = loadConfig({ env: { ENV_FILE: envFile('testing') } });
    expect(c.environment).toBe('testing');
    expect(c.audit.storage_type).toBe('database');
    expect(c.database.url).toMatch(/^postgres:\/\//);
    // from config/testing.yaml (the env file does not set it)
    expect(c.runtime.workers).toBe(2);
    expect(Object.keys(c.server.api_tokens).length).toBeGreaterThan(0);
  });

  it('production: database storage, tokens, log files', () => {
    const c = loadConfig({ env: { ENV_FILE: envFile('production') } });
    expect(c.environment).toBe('production');
    expect(c.audit.storage_type).toBe('database');
    expect(c.database.url).toMatch(/^postgres:\/\//);
    expect(Object.keys(c.server.api_tokens).length).toBeGreaterThan(0);
    expect(c.server.log_file).toBeDefined();
    expect(c.server.trust_proxy).toBe('loopback');
  });

  it('every mode has its config/<mode>.yaml, and the test suite keeps config/test.yaml', () => {
    for (const mode of ['development', 'testing', 'production', 'test']) {
      expect(existsSync(path.join(root, 'config', `${mode}.yaml`)), mode).toBe(true);
    }
    const t = loadConfig({ env: { ENVIRONMENT: 'test' } });
    expect(t.audit.storage_type).toBe('memory');
  });

  it('the real environment still wins over the env file', () => {
    const c = loadConfig({ env: { ENV_FILE: envFile('production'), AUDIT_STORAGE_TYPE: 'file' } });
    expect(c.audit.storage_type).toBe('file');
  });

  it('a mode the schema does not know is refused with the key, the value and the choices', () => {
    expect(() => loadConfig({ env: { ENVIRONMENT: 'staging' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { ENVIRONMENT: 'staging' } })).toThrow(/ENVIRONMENT \(environment\) = "staging": one of/);
  });

  it('a missing env file is refused by name', () => {
    expect(() => loadConfig({ env: { ENV_FILE: envFile('nope') } })).toThrow(/ENV_FILE=.*cannot read it/);
  });

  it('npm run dev restarts the daemon on code change (tsx watch)', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.dev).toMatch(/^tsx watch .*src\/cli\/main\.ts serve$/);
  });
});
