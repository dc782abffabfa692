/**
 * The audit thread's control API (comlink), as the main thread and the cluster use it. Defined
 * here, below both sides: workers/audit.worker.ts implements it over actors/audit/audit-actor.ts,
 * and callers import this type without reaching into a worker entry.
 *
 *   main thread ──comlink──► workers/audit.worker.ts (auditApi satisfies AuditApi) ──► AuditActor
 */
import type { MessagePort } from 'node:worker_threads';
import type { ComponentHealth } from '../health.ts';
import type { TrailProblem } from './checkpoints.ts';
import type { ChainIdentity } from './emit.ts';
import type { AuditEvent, AuditEventDraft, AuditQuery } from './events.ts';
import type { VerifyResult } from './hash-chain.ts';
import type { AuditStore } from './stores/store.ts';

export interface AuditStats {
  buffered: number;
  stored: number;
  batches: number;
  failed_writes: number;
  last_flush_ms: number;
  store: AuditStore['kind'];
  last_error: string | null;
  /** database store only: batches waiting in the local spool, and replay counters */
  spool?: {
    records: number;
    bytes: number;
    dead_lettered: number;
    spooled_batches: number;
    replayed_batches: number;
    recovered_records: number;
    truncated_bytes: number;
  };
}

/** One session's chain, what the checkpoints say of it, and every org that has a session of that id. */
export type SessionVerdict = VerifyResult & { problems: TrailProblem[]; orgs: string[] };

export interface AuditApi {
  init(): Promise<void>;
  /** connects a session host's audit port; returns its producer id */
  attachProducer(port: MessagePort): number;
  detachProducer(id: number): void;
  /** appends events on behalf of the main thread, continuing each session's chain */
  appendChained(items: Array<{ identity: ChainIdentity; draft: AuditEventDraft }>): Promise<void>;
  query(q: AuditQuery): Promise<AuditEvent[]>;
  count(q: AuditQuery): Promise<number>;
  verify(sessionId: string, orgId?: string): Promise<SessionVerdict>;
  checkpoint(): Promise<void>;
  deleteOlderThan(beforeIso: string): Promise<number>;
  flush(): Promise<void>;
  health(): Promise<ComponentHealth & { database?: ComponentHealth }>;
  stats(): AuditStats;
  close(): Promise<void>;
  /** the port stored events are posted on while setFeed(true) (live subscribers: src/review/event-hub.ts) */
  openFeed(port: MessagePort): void;
  setFeed(wanted: boolean): void;
  /** Prometheus text of the audit thread's registry */
  metrics(): Promise<string>;
}
