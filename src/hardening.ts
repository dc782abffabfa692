/**
 * Start-up hardening checks of the deployment guide. They never stop the daemon (an operator
 * may have reasons); each finding is a warning naming the file or setting and the fix:
 *
 * - the env file (ENV_FILE), the API tokens file, or a config/<ENVIRONMENT>.yaml that holds
 *   secrets is readable by group or others: it should be mode 600;
 * - the audit log directory is writable by everyone: anyone on the host could add, replace
 *   or delete audit files;
 * - DATABASE_URL names a host other than this one without sslmode=verify-full: the audit trail
 *   and the database password would cross the network unencrypted or to an unverified server.
 *   `?sslmode=verify-full&sslrootcert=/path/to/ca.pem` encrypts and checks the certificate.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.ts';
import { packagePath } from './package-paths.ts';

export interface HardeningFinding {
  check: 'secret_file_mode' | 'audit_dir_mode' | 'database_tls' | 'audit_signing_key';
  /** the file, directory or setting concerned */
  subject: string;
  message: string;
}

export interface HardeningInput {
  config: Pick<Config, 'environment' | 'audit' | 'database' | 'server'>;
  /** the env file the configuration was read from (ENV_FILE), if any */
  envFile?: string | undefined;
  /** the folder holding <ENVIRONMENT>.yaml; defaults to the package's config/ */
  configDir?: string | undefined;
  /** file modes mean nothing on Windows; tests pass 'linux' */
  platform?: NodeJS.Platform;
}

const DEFAULT_CONFIG_DIR = packagePath('config');
/** YAML keys whose values are secrets: a config file holding one must be private too. */
const SECRET_YAML = /^\s*(api_tokens|encryption_key|token_key|signing_key|url:\s*\S*:\/\/[^/\s:@]+:[^@\s]+@)/m;
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '']);

export function checkHardening(input: HardeningInput): HardeningFinding[] {
  const findings: HardeningFinding[] = [];
  const { config } = input;
  if ((input.platform ?? process.platform) !== 'win32') {
    const secretFiles = [input.envFile, config.server.api_tokens_file].filter((f): f is string => Boolean(f));
    const yamlPath = path.join(input.configDir ?? DEFAULT_CONFIG_DIR, `${config.environment}.yaml`);
    if (holdsSecrets(yamlPath)) secretFiles.push(yamlPath);
    for (const file of secretFiles) {
      const mode = modeOf(file);
      // 0o077: any permission bit for group or others.
      if (mode !== undefined && (mode & 0o077) !== 0) {
        findings.push({
          check: 'secret_file_mode',
          subject: file,
          message: `${file} holds secrets and has mode ${octal(mode)}: readable by others; run chmod 600 ${file}`,
        });
      }
    }
    const dir = config.audit.log_dir;
    const mode = modeOf(dir);
    // World-writable without the sticky bit: anyone can replace or delete audit files.
    if (mode !== undefined && (mode & 0o002) !== 0) {
      findings.push({
        check: 'audit_dir_mode',
        subject: dir,
        message: `audit log directory ${dir} is world-writable (mode ${octal(mode)}); run chmod o-w ${dir} (750 for the service user)`,
      });
    }
  }
  const tls = databaseTlsFinding(config.database.url);
  if (tls) findings.push(tls);
  if (config.environment === 'production' && !config.audit.signing_key) {
    findings.push({
      check: 'audit_signing_key',
      subject: 'AUDIT_SIGNING_KEY',
      message:
        'AUDIT_SIGNING_KEY is not set: audit checkpoints are unsigned, so a trail edited and re-hashed by ' +
        'someone with write access cannot be told from the real one (set key_id:hmac:<base64> or key_id:ed25519:<base64 PKCS#8>)',
    });
  }
  return findings;
}

/** A DATABASE_URL to another host must ask for sslmode=verify-full. */
export function databaseTlsFinding(url: string | undefined): HardeningFinding | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined; // not a URL (a libpq key=value string): the pool reports it
  }
  const host = decodeURIComponent(parsed.hostname).toLowerCase();
  const socketHost = parsed.searchParams.get('host') ?? '';
  // A Unix socket (postgres:///db?host=/run/postgresql) never leaves the machine.
  if (socketHost.startsWith('/') || LOCAL_HOSTS.has(host) || host.startsWith('127.')) return undefined;
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode === 'verify-full') return undefined;
  const shown = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  return {
    check: 'database_tls',
    subject: 'DATABASE_URL',
    message:
      `DATABASE_URL points to ${host} (${shown}) ${sslmode ? `with sslmode=${sslmode}` : 'without sslmode'}: ` +
      'add ?sslmode=verify-full&sslrootcert=<CA file> so the connection is encrypted and the server certificate checked',
  };
}

function modeOf(file: string): number | undefined {
  try {
    return statSync(file).mode & 0o7777;
  } catch {
    return undefined; // missing: nothing to protect (the loader reports a missing ENV_FILE)
  }
}

function holdsSecrets(file: string): boolean {
  try {
    return SECRET_YAML.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}
