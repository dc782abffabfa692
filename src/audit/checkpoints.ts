/**
 * Signed checkpoints (issue 15): what lets the trail prove what is missing from it.
 *
 * A session's hash chain shows that its events were not changed in place, but not that none
 * were removed from its end, that no session was removed whole, or that nobody with write access
 * recomputed every hash after an edit. So the audit actor writes checkpoints beside the events:
 *
 *   checkpoint n = { seq n, prev_hash (checkpoint n-1's hash), events_total,
 *                    sessions: [{org_id, session_id, seq, hash}]   ← the heads that moved since n-1
 *                    key_id, alg, hash = SHA-256(canonical fields), signature over hash }
 *
 * written every AUDIT_CHECKPOINT_INTERVAL seconds while events arrive, soon after a session
 * ends, and when the runtime stops; each only after the events it names are stored. Folding the
 * chain of checkpoints gives every session's last certified head, which verify holds the trail
 * to: a session with no events left, a trail that ends before its head, or a head event whose
 * hash differs (a recomputed chain) is reported by name; so is a checkpoint removed from the
 * middle (its successor's prev_hash no longer matches) or signed with a key nobody knows.
 *
 * Keys: AUDIT_SIGNING_KEY, comma-separated `key_id:hmac:<base64 secret>` or
 * `key_id:ed25519:<base64 PKCS#8 DER private key>`; the last one signs, every one verifies, so a
 * key is rotated by appending the new one. Without a key, checkpoints are written unsigned:
 * removal is still detected, a recomputed chain is not (verify says so).
 */
import { sessionKey } from '../session-key.ts';
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';
import { RuntimeError } from '../errors.ts';

export const CHECKPOINT_GENESIS = '0'.repeat(64);

export interface CheckpointHead {
  org_id: string;
  session_id: string;
  seq: number;
  hash: string;
  /** the head event's timestamp: retention may remove heads older than a signed cut-off */
  timestamp: string;
}

export interface Checkpoint {
  seq: number;
  created_at: string;
  prev_hash: string;
  /** events stored since the log began, as of this checkpoint */
  events_total: number;
  /** heads that moved since the previous checkpoint */
  sessions: CheckpointHead[];
  /** set when retention deleted the events older than this (so their absence is expected) */
  retained_before: string | null;
  key_id: string | null;
  alg: 'hmac-sha256' | 'ed25519' | 'none';
  hash: string;
  signature: string | null;
}

type UnsignedCheckpoint = Omit<Checkpoint, 'hash' | 'signature' | 'key_id' | 'alg'>;

interface SigningKey {
  id: string;
  alg: 'hmac-sha256' | 'ed25519';
  sign(data: string): string;
  verify(data: string, signature: string): boolean;
}

export interface SigningKeys {
  /** signs new checkpoints (the last key listed), or undefined: unsigned */
  current: SigningKey | undefined;
  byId: ReadonlyMap<string, SigningKey>;
}

export const NO_KEYS: SigningKeys = { current: undefined, byId: new Map() };

/** Parses AUDIT_SIGNING_KEY; a bad entry is a start-up error naming it (never its secret). */
export function parseSigningKeys(text: string | undefined): SigningKeys {
  if (!text || text.trim() === '') return NO_KEYS;
  const byId = new Map<string, SigningKey>();
  let current: SigningKey | undefined;
  for (const [i, entry] of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .entries()) {
    const [id, alg, material, ...rest] = entry.split(':');
    const bad = (why: string) =>
      new RuntimeError(
        'audit_signing_key_invalid',
        `AUDIT_SIGNING_KEY entry ${i + 1}${id ? ` (${id})` : ''}: ${why}`,
      );
    if (!id || !alg || !material || rest.length > 0)
      throw bad('expected key_id:hmac:<base64> or key_id:ed25519:<base64 PKCS#8>');
    if (!/^[\w.-]{1,64}$/.test(id)) throw bad('the key id must be 1-64 letters, digits, _, . or -');
    const bytes = Buffer.from(material, 'base64');
    let key: SigningKey;
    if (alg === 'hmac') {
      if (bytes.length < 32) throw bad('an HMAC secret must be at least 32 bytes (base64)');
      key = {
        id,
        alg: 'hmac-sha256',
        sign: (data) => createHmac('sha256', bytes).update(data).digest('base64'),
        verify: (data, signature) =>
          safeEqual(createHmac('sha256', bytes).update(data).digest('base64'), signature),
      };
    } else if (alg === 'ed25519') {
      let privateKey: KeyObject;
      try {
        privateKey = createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
      } catch {
        throw bad('not a PKCS#8 DER private key in base64');
      }
      if (privateKey.asymmetricKeyType !== 'ed25519') throw bad('the key is not an Ed25519 key');
      const publicKey = createPublicKey(privateKey);
      key = {
        id,
        alg: 'ed25519',
        sign: (data) => sign(null, Buffer.from(data), privateKey).toString('base64'),
        verify: (data, signature) =>
          verify(null, Buffer.from(data), publicKey, Buffer.from(signature, 'base64')),
      };
    } else {
      throw bad(`unknown algorithm ${JSON.stringify(alg)} (hmac or ed25519)`);
    }
    if (byId.has(id)) throw bad('the key id is listed twice');
    byId.set(id, key);
    current = key;
  }
  return { current, byId };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function checkpointHash(c: UnsignedCheckpoint & Pick<Checkpoint, 'key_id' | 'alg'>): string {
  const canonical = JSON.stringify([
    c.seq,
    c.created_at,
    c.prev_hash,
    c.events_total,
    c.key_id,
    c.alg,
    c.retained_before,
    c.sessions.map((s) => [s.org_id, s.session_id, s.seq, s.hash, s.timestamp]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function sealCheckpoint(unsigned: UnsignedCheckpoint, keys: SigningKeys): Checkpoint {
  const key = keys.current;
  const withKey = { ...unsigned, key_id: key?.id ?? null, alg: key?.alg ?? ('none' as const) };
  const hash = checkpointHash(withKey);
  return { ...withKey, hash, signature: key ? key.sign(hash) : null };
}

/** What verify reports: each problem names its session or checkpoint and what is wrong. */
export interface TrailProblem {
  kind:
    | 'removed_session'
    | 'removed_tail'
    | 'recomputed_chain'
    | 'checkpoint_altered'
    | 'checkpoint_removed'
    | 'checkpoint_bad_signature'
    | 'checkpoint_unknown_key'
    | 'unreadable_line';
  session_id?: string;
  org_id?: string;
  checkpoint?: number;
  detail: string;
}

export interface CheckpointVerdict {
  /** the heads the checkpoints certify, by org and session */
  heads: Map<string, CheckpointHead>;
  problems: TrailProblem[];
  checkpoints: number;
  /** false when some checkpoint is unsigned: a recomputed chain cannot be told apart */
  signed: boolean;
  /** the latest retention cut-off a valid checkpoint records: older heads may be gone */
  retainedBefore: string | null;
}


/** Checks the checkpoint chain itself and folds it into the last certified head of each session. */
export function foldCheckpoints(checkpoints: readonly Checkpoint[], keys: SigningKeys): CheckpointVerdict {
  const problems: TrailProblem[] = [];
  const heads = new Map<string, CheckpointHead>();
  let prev: Checkpoint | undefined;
  let signed = checkpoints.length > 0;
  let retainedBefore: string | null = null;
  for (const c of checkpoints) {
    const problemsBefore = problems.length;
    if (checkpointHash(c) !== c.hash) {
      problems.push({
        kind: 'checkpoint_altered',
        checkpoint: c.seq,
        detail: `checkpoint ${c.seq}: its content does not match its hash`,
      });
    }
    if (c.alg === 'none') {
      signed = false;
    } else {
      const key = c.key_id ? keys.byId.get(c.key_id) : undefined;
      if (!key) {
        problems.push({
          kind: 'checkpoint_unknown_key',
          checkpoint: c.seq,
          detail: `checkpoint ${c.seq}: signed with key ${JSON.stringify(c.key_id)}, which AUDIT_SIGNING_KEY does not hold`,
        });
      } else if (!c.signature || !key.verify(c.hash, c.signature)) {
        problems.push({
          kind: 'checkpoint_bad_signature',
          checkpoint: c.seq,
          detail: `checkpoint ${c.seq}: the signature does not verify with key ${c.key_id}`,
        });
      }
    }
    const expectedPrev = prev ? prev.hash : CHECKPOINT_GENESIS;
    const expectedSeq = prev ? prev.seq + 1 : 0;
    if (c.seq !== expectedSeq || c.prev_hash !== expectedPrev) {
      problems.push({
        kind: 'checkpoint_removed',
        checkpoint: c.seq,
        detail: `checkpoint ${c.seq}: does not follow checkpoint ${prev ? prev.seq : '(none)'}; checkpoints were removed or reordered`,
      });
    }
    for (const head of c.sessions) heads.set(sessionKey(head.org_id, head.session_id), head);
    // Only a checkpoint that checks out may excuse missing events (a forger cannot sign one).
    if (
      c.retained_before &&
      problems.length === problemsBefore &&
      (!retainedBefore || c.retained_before > retainedBefore)
    ) {
      retainedBefore = c.retained_before;
    }
    prev = c;
  }
  return { heads, problems, checkpoints: checkpoints.length, signed, retainedBefore };
}

/** Holds one session's stored events to the head the checkpoints certify for it. */
export function checkSessionAgainstHead(
  head: CheckpointHead,
  events: ReadonlyArray<{ seq: number; hash: string; org_id: string }>,
  retainedBefore: string | null = null,
): TrailProblem | undefined {
  // Retention removed events older than a signed cut-off: a head from before it may be gone.
  if (retainedBefore && head.timestamp < retainedBefore) return undefined;
  const own = events.filter((e) => e.org_id === head.org_id);
  const where = { session_id: head.session_id, org_id: head.org_id };
  if (own.length === 0) {
    return {
      kind: 'removed_session',
      ...where,
      detail: `session ${head.session_id}: a checkpoint certifies ${head.seq + 1} events, the trail has none`,
    };
  }
  const last = own.reduce((max, e) => Math.max(max, e.seq), -1);
  if (last < head.seq) {
    return {
      kind: 'removed_tail',
      ...where,
      detail: `session ${head.session_id}: a checkpoint says seq ${head.seq}, the trail ends at ${last}`,
    };
  }
  const atHead = own.find((e) => e.seq === head.seq);
  if (!atHead || atHead.hash !== head.hash) {
    return {
      kind: 'recomputed_chain',
      ...where,
      detail: `session ${head.session_id}: event seq ${head.seq} does not have the hash its checkpoint signed (the chain was changed and recomputed)`,
    };
  }
  return undefined;
}
