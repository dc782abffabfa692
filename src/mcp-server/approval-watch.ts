/**
 * One listener on the runtime's approval requests, fanned out to the tools/call that is waiting
 * for that action: the MCP layer assigns each call's action id, so it knows which request is its
 * own (HTTP: progress notifications while a person decides; stdio: an elicitation).
 */
import type { PendingApproval } from '../contracts.ts';
import type { Runtime } from '../runtime.ts';
import { type SessionKey, keyOf } from '../session-key.ts';

export type ApprovalHook = (approval: PendingApproval) => void;

export class ApprovalWatch {
  readonly #runtime: Runtime;
  readonly #hooks = new Map<string, ApprovalHook>();
  #off: (() => void) | undefined;

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }

  /** Calls `hook` when the action `actionId` of session `key` asks for approval; returns the off switch. */
  watch(key: SessionKey, actionId: string, hook: ApprovalHook): () => void {
    // Subscribed at first use: the runtime takes listeners only once it has started.
    this.#off ??= this.#runtime.onApprovalRequested(({ org_id, session_id, approval }) => {
      this.#hooks.get(entryKey(keyOf({ org_id, session_id }), approval.action_id))?.(approval);
    });
    const k = entryKey(key, actionId);
    this.#hooks.set(k, hook);
    return () => this.#hooks.delete(k);
  }

  close(): void {
    this.#off?.();
    this.#off = undefined;
    this.#hooks.clear();
  }
}

const entryKey = (key: SessionKey, actionId: string) => `${key}\n${actionId}`;
