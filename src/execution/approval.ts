/**
 * Approval of high-risk actions. A request pauses its action until a person decides, the
 * approval times out (denied), or the session ends. A grant names the exact params it
 * approved by their SHA-256 (params_hash): it never carries over to other params or actions.
 */
import type { ApprovalDecision, PendingApproval } from '../contracts.ts';
import { RuntimeError } from '../errors.ts';
import { canonicalJson, sha256Hex } from '../audit/hash-chain.ts';

export interface ApprovalOutcome {
  granted: boolean;
  timed_out: boolean;
  decided_by: string;
  reason: string | null;
  decided_at: string;
  params_hash: string;
}

interface Waiting {
  approval: PendingApproval;
  resolve(outcome: ApprovalOutcome): void;
  timer: NodeJS.Timeout;
}

export function paramsHash(params: Record<string, unknown>): string {
  return sha256Hex(canonicalJson(params));
}

export class ApprovalGate {
  readonly #waiting = new Map<string, Waiting>();

  /** Opens an approval; the promise settles with the decision (or a timeout denial). */
  request(
    action: { id: string; name: string; params: Record<string, unknown> },
    timeoutSeconds: number,
    signal: AbortSignal,
  ): { approval: PendingApproval; outcome: Promise<ApprovalOutcome> } {
    const now = Date.now();
    const approval: PendingApproval = {
      action_id: action.id,
      name: action.name,
      params: action.params,
      params_hash: paramsHash(action.params),
      requested_at: new Date(now).toISOString(),
      expires_at: new Date(now + timeoutSeconds * 1000).toISOString(),
    };
    const outcome = new Promise<ApprovalOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(action.id);
        resolve({
          granted: false,
          timed_out: true,
          decided_by: 'system',
          reason: `approval timed out after ${timeoutSeconds} s`,
          decided_at: new Date().toISOString(),
          params_hash: approval.params_hash,
        });
      }, timeoutSeconds * 1000);
      const onAbort = () => {
        clearTimeout(timer);
        this.#waiting.delete(action.id);
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.set(action.id, {
        approval,
        timer,
        resolve: (o) => {
          signal.removeEventListener('abort', onAbort);
          resolve(o);
        },
      });
    });
    return { approval, outcome };
  }

  /** Applies a person's decision; throws approval_not_found / approval_params_mismatch. */
  decide(actionId: string, decision: ApprovalDecision, decidedBy: string): ApprovalOutcome {
    const waiting = this.#waiting.get(actionId);
    if (!waiting) throw new RuntimeError('approval_not_found', `no approval is pending for action ${actionId}`);
    if (decision.params_hash !== undefined && decision.params_hash !== waiting.approval.params_hash) {
      throw new RuntimeError(
        'approval_params_mismatch',
        `the decision names params ${decision.params_hash.slice(0, 12)}…, but action ${actionId} waits with params ${waiting.approval.params_hash.slice(0, 12)}…`,
      );
    }
    clearTimeout(waiting.timer);
    this.#waiting.delete(actionId);
    const outcome: ApprovalOutcome = {
      granted: decision.granted,
      timed_out: false,
      decided_by: decision.decided_by ?? decidedBy,
      reason: decision.reason ?? null,
      decided_at: new Date().toISOString(),
      params_hash: waiting.approval.params_hash,
    };
    waiting.resolve(outcome);
    return outcome;
  }

  pending(): PendingApproval[] {
    return [...this.#waiting.values()].map((w) => w.approval);
  }

  get size(): number {
    return this.#waiting.size;
  }
}
