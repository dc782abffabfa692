/**
 * Where the runtime keeps what an OAuth login got it: one sealed file per org and MCP server in
 * MCP_TOKEN_DIR, AES-256-GCM under MCP_TOKEN_KEY.
 *
 *   <dir>/<sha256(org, server)>.json = {format, org_id, server_id, key_id, sealed}
 *   sealed = tokens, the client registration and the discovery state, as JSON
 *   associated data = (org, server id, server URL)
 *
 * The associated data is why a token cannot reach another server through the store: a file
 * copied into another org's or server's place, or a server whose URL the operator changed, does
 * not open (mcp_token_unreadable) and a new login is needed. Reads are cached by the file's
 * identity (inode, size, mtime), so `mcp logout` or a login in another process is seen at the
 * next request without decrypting the file for every request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { AuditCipher, type KeyNames } from '../../../audit/crypto.ts';
import { syncDir } from '../../../audit/sync-dir.ts';
import { errorMessage, RuntimeError } from '../../../errors.ts';

const FORMAT = 'semibot-mcp-token/1';

const TOKEN_KEY_NAMES: KeyNames = {
  variable: 'MCP_TOKEN_KEY',
  invalid: 'mcp_token_key_invalid',
  failed: 'mcp_token_unreadable',
};

/** What one org holds for one server. */
export interface StoredAuthorization {
  tokens?: OAuthTokens;
  /** when the tokens were saved (ms since the epoch): expires_in counts from here */
  obtained_at?: number;
  client?: OAuthClientInformationMixed;
  discovery?: OAuthDiscoveryState;
}

export interface StoreSlot {
  orgId: string;
  serverId: string;
  serverUrl: string;
}

interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

export class TokenStore {
  readonly dir: string;
  readonly #cipher: AuditCipher;
  readonly #cache = new Map<string, { identity: FileIdentity; record: StoredAuthorization }>();
  /** writes of one file, one after another */
  readonly #writes = new Map<string, Promise<void>>();

  constructor(dir: string, keyText: string) {
    this.dir = dir;
    this.#cipher = AuditCipher.fromKeyText(keyText, TOKEN_KEY_NAMES);
  }

  /** The stored authorization, or an empty one; throws mcp_token_unreadable for a file that does not open. */
  async load(slot: StoreSlot): Promise<StoredAuthorization> {
    const file = this.#file(slot);
    let identity: FileIdentity;
    try {
      const s = await stat(file);
      identity = { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#cache.delete(file);
        return {};
      }
      throw err;
    }
    const cached = this.#cache.get(file);
    if (cached && sameIdentity(cached.identity, identity)) return cached.record;
    const record = this.#open(slot, await readFile(file, 'utf8'));
    this.#cache.set(file, { identity, record });
    return record;
  }

  /** Changes the stored authorization (read, change, write sealed; atomically, synced). */
  update(slot: StoreSlot, change: (record: StoredAuthorization) => StoredAuthorization): Promise<void> {
    const file = this.#file(slot);
    const previous = this.#writes.get(file) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      // Read, change and write under the file's lock: another process sharing the directory (a
      // cluster node, a CLI login) must not interleave its read-change-write with this one.
      .then(() =>
        withLock(this.dir, `${file}.lock`, async () => {
          let current: StoredAuthorization;
          try {
            current = await this.load(slot);
          } catch {
            // A file that no longer opens (another key, a moved server) is replaced by the new login.
            current = {};
          }
          await this.#write(slot, file, change({ ...current }));
        }),
      );
    this.#writes.set(file, next);
    return next.finally(() => {
      if (this.#writes.get(file) === next) this.#writes.delete(file);
    });
  }

  /** Forgets what is stored for the slot; true when there was something. */
  async remove(slot: Pick<StoreSlot, 'orgId' | 'serverId'>): Promise<boolean> {
    const file = this.#file(slot);
    this.#cache.delete(file);
    try {
      await unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await syncDir(this.dir);
    return true;
  }

  #file(slot: Pick<StoreSlot, 'orgId' | 'serverId'>): string {
    const name = createHash('sha256')
      .update(JSON.stringify([slot.orgId, slot.serverId]))
      .digest('hex')
      .slice(0, 40);
    return path.join(this.dir, `${name}.json`);
  }

  #open(slot: StoreSlot, text: string): StoredAuthorization {
    let envelope: { format?: unknown; key_id?: unknown; sealed?: unknown };
    try {
      envelope = JSON.parse(text) as typeof envelope;
    } catch {
      throw unreadable(slot, 'it is not JSON');
    }
    if (
      envelope.format !== FORMAT ||
      typeof envelope.key_id !== 'string' ||
      typeof envelope.sealed !== 'string'
    ) {
      throw unreadable(slot, `it is not a ${FORMAT} file`);
    }
    let plain: Buffer;
    try {
      plain = this.#cipher.open(envelope.key_id, Buffer.from(envelope.sealed, 'base64'), aad(slot));
    } catch (err) {
      throw unreadable(
        slot,
        `${errorMessage(err)} (sealed under another MCP_TOKEN_KEY, for another org, server or URL, or edited); log in again`,
      );
    }
    return JSON.parse(plain.toString('utf8')) as StoredAuthorization;
  }

  async #write(slot: StoreSlot, file: string, record: StoredAuthorization): Promise<void> {
    const { keyId, sealed } = this.#cipher.seal(Buffer.from(JSON.stringify(record), 'utf8'), aad(slot));
    const envelope = {
      format: FORMAT,
      org_id: slot.orgId,
      server_id: slot.serverId,
      key_id: keyId,
      sealed: sealed.toString('base64'),
    };
    // A name of its own ('wx': never an existing file), even for processes of equal pid in
    // containers sharing the directory.
    const temp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(envelope)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    await syncDir(this.dir);
    this.#cache.delete(file);
  }
}

/** The store of the configuration (MCP_TOKEN_DIR, MCP_TOKEN_KEY); none without a key. */
export function openTokenStore(config: {
  mcp: { token_dir: string; token_key?: string | undefined };
}): TokenStore | undefined {
  const key = config.mcp.token_key;
  return key === undefined ? undefined : new TokenStore(path.resolve(config.mcp.token_dir), key);
}

/** A lock older than this was left by a process that died holding it. */
const STALE_LOCK_MS = 10_000;

/** Runs `work` holding the lock file `lock` (created with O_EXCL), waiting for another holder. */
async function withLock<T>(dir: string, lock: string, work: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let waited = 0; ; waited++) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > STALE_LOCK_MS) await unlink(lock).catch(() => {});
      else await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 + waited)));
    }
  }
  try {
    return await work();
  } finally {
    await unlink(lock).catch(() => {});
  }
}

function aad(slot: StoreSlot): Buffer {
  return Buffer.from(JSON.stringify([FORMAT, slot.orgId, slot.serverId, slot.serverUrl]), 'utf8');
}

function unreadable(slot: StoreSlot, why: string): RuntimeError {
  return new RuntimeError(
    'mcp_token_unreadable',
    `the stored authorization of MCP server ${slot.serverId} for org ${slot.orgId} cannot be read: ${why}`,
  );
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
