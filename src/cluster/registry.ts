/**
 * The cluster's shared state, in two JetStream key-value buckets, mirrored locally:
 *
 *   <cluster>_sessions   <kv key of org + session id> → SessionRecord (owner node, identity, state)
 *   <cluster>_nodes      <node id>     → NodeRecord (load; the key's age is the node's lease)
 *
 *   kv.watch() on both ──► #sessions / #nodes maps (every node keeps a full copy)
 *
 * Lookups on the request path read the local copy, so routing a request costs no KV round
 * trip; a miss (a session created elsewhere a moment ago) falls back to one kv.get.
 * Writes that must happen once (creating a session id, failing a lost node's session) are
 * compare-and-set on the key's revision, so two nodes can never both win.
 */
import type { KV, KvEntry, KvWatchEntry } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator } from '@nats-io/transport-node';
import type { Logger } from '../log.ts';
import { parseSessionKey, type SessionKey } from '../session-key.ts';
import { type NodeRecord, NodeRecordSchema, type SessionRecord, SessionRecordSchema } from './messages.ts';


export interface Versioned<T> {
  value: T;
  revision: number;
  /** when this node saw the last write (local ms): for a node, when it last renewed its lease */
  writtenAtMs: number;
}

/**
 * KV keys allow [-_=.a-zA-Z0-9] only: a session's key (its org and id, src/session-key.ts) is
 * stored base64url-encoded. Ids are unique within an org (issue 15), so the bucket is keyed by both.
 */
export function kvSessionKey(key: SessionKey): string {
  return `s.${Buffer.from(key).toString('base64url')}`;
}

/** The session key of a bucket key, or undefined for a key this version did not write. */
function fromKvSessionKey(kvKey: string): SessionKey | undefined {
  if (!kvKey.startsWith('s.')) return undefined;
  const key = Buffer.from(kvKey.slice(2), 'base64url').toString();
  try {
    parseSessionKey(key);
    return key as SessionKey;
  } catch {
    return undefined;
  }
}

export class Registry {
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  #sessionsKv: KV | undefined;
  #nodesKv: KV | undefined;
  readonly #sessions = new Map<SessionKey, Versioned<SessionRecord>>();
  readonly #nodes = new Map<string, Versioned<NodeRecord>>();
  readonly #watches: QueuedIterator<KvWatchEntry>[] = [];
  #closed = false;
  readonly #cluster: string;

  constructor(nc: NatsConnection, cluster: string, log: Logger) {
    this.#nc = nc;
    this.#cluster = cluster;
    this.#log = log;
  }

  async open(): Promise<void> {
    const kvm = new Kvm(this.#nc);
    // create() binds when the bucket exists with the same settings, so every node may call it.
    this.#sessionsKv = await kvm.create(`${this.#cluster}_sessions`, { history: 1 });
    this.#nodesKv = await kvm.create(`${this.#cluster}_nodes`, { history: 1 });
    await this.watch();
    // The watch replays current keys asynchronously; read them once here so that start-up
    // decisions (failing this node id's sessions of an earlier life) see the whole registry.
    await Promise.all([this.#load('sessions', (e) => this.#applySession(e)), this.#load('nodes', (e) => this.#applyNode(e))]);
  }

  async #load(which: 'sessions' | 'nodes', apply: (e: KvEntry) => void): Promise<void> {
    const kv = this.#kv(which);
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    await Promise.all(
      keys.map(async (key) => {
        const entry = await kv.get(key);
        if (entry) apply(entry);
      }),
    );
  }

  /** (Re)starts both watches; each first replays every current key, then follows changes. */
  async watch(): Promise<void> {
    for (const w of this.#watches.splice(0)) w.stop();
    const sessions = await this.#kv('sessions').watch();
    const nodes = await this.#kv('nodes').watch();
    this.#watches.push(sessions, nodes);
    void this.#follow(sessions, (e) => this.#applySession(e));
    void this.#follow(nodes, (e) => this.#applyNode(e));
  }

  /** Deletes both buckets: the whole cluster's state (for tests that made a throw-away cluster). */
  async destroy(): Promise<void> {
    this.close();
    await Promise.all([this.#sessionsKv?.destroy(), this.#nodesKv?.destroy()]);
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#watches.splice(0)) w.stop();
  }

  // --- sessions -----------------------------------------------------------------------------

  /** Claims a session for `record.node`; false when its org already has that id cluster-wide. */
  async claimSession(key: SessionKey, record: SessionRecord): Promise<boolean> {
    try {
      const revision = await this.#kv('sessions').create(kvSessionKey(key), JSON.stringify(record));
      this.#setSession(key, { value: record, revision, writtenAtMs: Date.now() });
      return true;
    } catch (err) {
      if (/wrong last sequence|exists/i.test((err as Error).message)) return false;
      throw err;
    }
  }

  /** Replaces a session's record if it is still at `revision`; false when someone else wrote first. */
  async updateSession(key: SessionKey, record: SessionRecord, revision: number): Promise<boolean> {
    try {
      const next = await this.#kv('sessions').update(kvSessionKey(key), JSON.stringify(record), revision);
      this.#setSession(key, { value: record, revision: next, writtenAtMs: Date.now() });
      return true;
    } catch (err) {
      if (/wrong last sequence/i.test((err as Error).message)) return false;
      throw err;
    }
  }

  async deleteSession(key: SessionKey): Promise<void> {
    await this.#kv('sessions').delete(kvSessionKey(key));
    this.#sessions.delete(key);
  }

  /** The local copy's record of a session (no network). */
  session(key: SessionKey): Versioned<SessionRecord> | undefined {
    return this.#sessions.get(key);
  }

  /** Every session of that id in the local copy, whatever its org (for callers that name no org). */
  sessionsWithId(sessionId: string): SessionKey[] {
    return [...this.#sessions.keys()].filter((key) => parseSessionKey(key).session_id === sessionId);
  }

  /** The record from the bucket itself, for a session the local copy has not seen yet. */
  async fetchSession(key: SessionKey): Promise<Versioned<SessionRecord> | undefined> {
    const entry = await this.#kv('sessions').get(kvSessionKey(key));
    if (entry?.operation !== 'PUT') return undefined;
    const v = this.#decodeSession(entry);
    if (v) this.#setSession(key, v);
    return v;
  }

  sessionsOn(node: string): Array<[SessionKey, Versioned<SessionRecord>]> {
    return [...this.#sessions].filter(([, v]) => v.value.node === node);
  }

  // --- nodes --------------------------------------------------------------------------------

  async renewLease(record: NodeRecord): Promise<void> {
    await this.#kv('nodes').put(record.node, JSON.stringify(record));
  }

  /** Removes a lost node's lease unless it renewed it meanwhile (came back). */
  async dropLease(node: string, revision: number): Promise<void> {
    await this.#kv('nodes')
      .delete(node, { previousSeq: revision })
      .catch(() => {});
  }

  nodes(): ReadonlyMap<string, Versioned<NodeRecord>> {
    return this.#nodes;
  }

  /**
   * Times every known lease as seen now. After our own NATS outage the watch replays the
   * buckets asynchronously; until it has, the leases we hold are as old as the outage, and a
   * peer must not be judged on that: it gets a whole lease from our reconnect to renew.
   */
  restampLeases(now = Date.now()): void {
    for (const [id, lease] of this.#nodes) this.#nodes.set(id, { ...lease, writtenAtMs: now });
  }

  // --- plumbing -----------------------------------------------------------------------------

  #kv(which: 'sessions' | 'nodes'): KV {
    const kv = which === 'sessions' ? this.#sessionsKv : this.#nodesKv;
    if (!kv) throw new Error('the cluster registry is not open');
    return kv;
  }

  async #follow(it: QueuedIterator<KvWatchEntry>, apply: (e: KvEntry) => void): Promise<void> {
    try {
      for await (const e of it) apply(e);
    } catch (err) {
      if (!this.#closed) this.#log.warn({ err }, 'cluster registry watch ended');
    }
  }

  #applySession(e: KvEntry): void {
    const id = fromKvSessionKey(e.key);
    if (id === undefined) return;
    if (e.operation !== 'PUT') {
      this.#sessions.delete(id);
      return;
    }
    const v = this.#decodeSession(e);
    if (v) this.#setSession(id, v);
  }

  #setSession(id: SessionKey, v: Versioned<SessionRecord>): void {
    // A watch entry may arrive after our own newer write: keep the higher revision.
    const known = this.#sessions.get(id);
    if (!known || known.revision <= v.revision) this.#sessions.set(id, v);
  }

  #decodeSession(e: KvEntry): Versioned<SessionRecord> | undefined {
    const parsed = SessionRecordSchema.safeParse(safeJson(e));
    return parsed.success ? { value: parsed.data, revision: e.revision, writtenAtMs: e.created.getTime() } : undefined;
  }

  #applyNode(e: KvEntry): void {
    if (e.operation !== 'PUT') {
      this.#nodes.delete(e.key);
      return;
    }
    const parsed = NodeRecordSchema.safeParse(safeJson(e));
    // The lease is timed by when this node saw the write, not by the writer's or server's
    // clock: no clock skew between machines can make a live node look expired.
    if (parsed.success) this.#nodes.set(e.key, { value: parsed.data, revision: e.revision, writtenAtMs: Date.now() });
  }
}

function safeJson(e: KvEntry): unknown {
  try {
    return e.json();
  } catch {
    return undefined;
  }
}
