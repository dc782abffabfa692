/**
 * The supervisor's table: session key (org and id: ids are unique within an org, issue 15) →
 * the worker slot it is pinned to and what is known of it.
 */
import { type ActionResult, isTerminal, type SessionState, type SessionStatus } from '../../src/contracts.ts';
import type { ChainIdentity } from '../../src/audit/emit.ts';
import type { Action } from '../../src/contracts.ts';
import { keyOf, type SessionKey } from '../../src/session-key.ts';

export interface SessionEntry {
  key: SessionKey;
  identity: ChainIdentity;
  slot: number;
  state: SessionState;
  /** execute() batches sent and not yet answered, by ask id (to fail them on a crash) */
  inflight: Map<number, Action[]>;
  /** set when the supervisor itself ended the session (its worker crashed) */
  finalStatus?: SessionStatus;
  startedAt: string;
}


export class SessionTable {
  readonly #entries = new Map<SessionKey, SessionEntry>();
  #active = 0;
  readonly #activeBySlot = new Map<number, number>();
  /** active sessions of each org, for ORG_MAX_SESSIONS */
  readonly #activeByOrg = new Map<string, number>();

  get(key: SessionKey): SessionEntry | undefined {
    return this.#entries.get(key);
  }

  has(key: SessionKey): boolean {
    return this.#entries.has(key);
  }

  /** Every session with this id, whatever its org (for callers that do not name the org). */
  withId(sessionId: string): SessionEntry[] {
    return [...this.#entries.values()].filter((e) => e.identity.session_id === sessionId);
  }

  add(entry: SessionEntry): void {
    if (entry.key !== keyOf(entry.identity)) throw new Error('session entry: key and identity disagree');
    this.#entries.set(entry.key, entry);
    if (!isTerminal(entry.state)) this.#countActive(entry, +1);
  }

  /** Moves a session to a terminal state once; returns false if it had already ended. */
  end(key: SessionKey, state: SessionState): boolean {
    const entry = this.#entries.get(key);
    if (!entry || isTerminal(entry.state)) return false;
    entry.state = state;
    this.#countActive(entry, -1);
    return true;
  }

  remove(key: SessionKey): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    if (!isTerminal(entry.state)) this.#countActive(entry, -1);
    this.#entries.delete(key);
  }

  get active(): number {
    return this.#active;
  }

  activeCountOn(slot: number): number {
    return this.#activeBySlot.get(slot) ?? 0;
  }

  activeOfOrg(orgId: string): number {
    return this.#activeByOrg.get(orgId) ?? 0;
  }

  #countActive(entry: SessionEntry, delta: number): void {
    this.#active += delta;
    this.#activeBySlot.set(entry.slot, (this.#activeBySlot.get(entry.slot) ?? 0) + delta);
    const org = entry.identity.org_id;
    const left = (this.#activeByOrg.get(org) ?? 0) + delta;
    if (left > 0) this.#activeByOrg.set(org, left);
    else this.#activeByOrg.delete(org);
  }

  activeOn(slot: number): SessionEntry[] {
    return [...this.#entries.values()].filter((e) => e.slot === slot && !isTerminal(e.state));
  }

  crashResults(entry: SessionEntry, message: string): ActionResult[] {
    return [...entry.inflight.values()].flat().map((a) => ({
      action_id: a.id,
      name: a.name,
      success: false,
      error: { code: 'worker_crashed' as const, message },
      duration_ms: 0,
    }));
  }
}
