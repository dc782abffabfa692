/**
 * Encryption at rest of audit payloads (action_params and metadata), AES-256-GCM.
 *
 *   sealed = iv (12 bytes) ‖ ciphertext ‖ tag (16 bytes), stored with the id of its key
 *   associated data = the event's org_id and event_id, so a sealed payload moved onto
 *   another event (or another org) fails to open instead of being read as that event's
 *
 * Keys (AUDIT_ENCRYPTION_KEY): one 32-byte key, base64 or 64 hex digits, whose id is derived
 * from it; or `id:key` pairs separated by commas, the first being the key that seals and every
 * one able to open — rotate by putting a new pair first and keeping the old ones after it.
 * Opening is strict: an unknown key id, a tag shorter than 16 bytes (Node would otherwise accept
 * a 4-byte tag: authTagLength is pinned) or any mismatch throws audit_decrypt_failed.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { type ErrorCode, RuntimeError } from '../errors.ts';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export interface SealedPayload {
  keyId: string;
  sealed: Buffer;
}

/** What a key set is called in its errors: the audit trail's, or another sealed store's (MCP tokens). */
export interface KeyNames {
  variable: string;
  invalid: ErrorCode;
  failed: ErrorCode;
}

const AUDIT_KEY_NAMES: KeyNames = {
  variable: 'AUDIT_ENCRYPTION_KEY',
  invalid: 'audit_encryption_key_invalid',
  failed: 'audit_decrypt_failed',
};

export class AuditCipher {
  readonly currentKeyId: string;
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #names: KeyNames;

  constructor(keys: ReadonlyMap<string, Buffer>, currentKeyId: string, names: KeyNames = AUDIT_KEY_NAMES) {
    if (!keys.has(currentKeyId)) throw new RuntimeError(names.invalid, 'the current key is not in the key set');
    this.#keys = keys;
    this.currentKeyId = currentKeyId;
    this.#names = names;
  }

  /** Parses AUDIT_ENCRYPTION_KEY, or another variable of the same form (see the module comment). */
  static fromKeyText(text: string, names: KeyNames = AUDIT_KEY_NAMES): AuditCipher {
    const keys = new Map<string, Buffer>();
    let current: string | undefined;
    const parts = text
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    if (parts.length === 0) throw new RuntimeError(names.invalid, `${names.variable} is empty`);
    for (const part of parts) {
      const colon = part.indexOf(':');
      // A single bare key gets an id derived from it, so its records name it all the same.
      const [id, material] = colon > 0 ? [part.slice(0, colon), part.slice(colon + 1)] : [undefined, part];
      const key = decodeKey(material, names);
      const keyId = id ?? `k${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
      if (!KEY_ID.test(keyId)) {
        throw new RuntimeError(names.invalid, `key id ${JSON.stringify(keyId)} must match ${KEY_ID}`);
      }
      if (keys.has(keyId)) throw new RuntimeError(names.invalid, `key id ${keyId} appears twice`);
      keys.set(keyId, key);
      current ??= keyId;
    }
    return new AuditCipher(keys, current!, names);
  }

  seal(plain: Buffer, aad: Buffer): SealedPayload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.currentKeyId)!, iv, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return { keyId: this.currentKeyId, sealed: Buffer.concat([iv, body, cipher.getAuthTag()]) };
  }

  open(keyId: string, sealed: Buffer, aad: Buffer): Buffer {
    const key = this.#keys.get(keyId);
    if (!key) throw new RuntimeError(this.#names.failed, `no key with id ${JSON.stringify(keyId)} is configured`);
    if (sealed.length < IV_BYTES + TAG_BYTES) {
      throw new RuntimeError(
        this.#names.failed,
        `the sealed record is ${sealed.length} bytes: too short for iv and a 16-byte tag`,
      );
    }
    const iv = sealed.subarray(0, IV_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const body = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch (err) {
      throw new RuntimeError(
        this.#names.failed,
        `the record does not authenticate under key ${keyId}: ${(err as Error).message}`,
      );
    }
  }
}

/** The associated data binding a sealed payload to its event and org. */
export function eventAad(orgId: string, eventId: string): Buffer {
  // JSON of a tuple: unambiguous whatever characters the ids hold.
  return Buffer.from(JSON.stringify(['semibot-audit/1', orgId, eventId]), 'utf8');
}

function decodeKey(material: string, names: KeyNames): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(material)
    ? Buffer.from(material, 'hex')
    : Buffer.from(material, 'base64');
  // Buffer.from(base64) ignores junk silently: re-encode to be sure the text was base64.
  const clean = material.replace(/=+$/, '');
  if (
    key.length !== KEY_BYTES ||
    (material.length !== 64 && key.toString('base64').replace(/=+$/, '') !== clean)
  ) {
    throw new RuntimeError(
      names.invalid,
      `a ${names.variable} key must be 32 bytes (base64 or 64 hex digits), got ${key.length} bytes`,
    );
  }
  return key;
}
