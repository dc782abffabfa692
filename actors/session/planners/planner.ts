/**
 * A planner decides the next step (a batch of actions run concurrently) from what has
 * happened so far. `null` means the plan is done. The external planner has no steps of its
 * own: its caller submits each batch through execute().
 */
import type { Context, Tracer } from '@opentelemetry/api';
import type { Action, ActionResult, SessionContext } from '../../../src/contracts.ts';
import type { CapabilitySummary } from '../../../src/contracts.ts';

export interface PlannerInput {
  ctx: SessionContext;
  capabilities: CapabilitySummary[];
  /** results of every step so far, oldest first */
  history: ActionResult[][];
  signal: AbortSignal;
  /** traces on: the tracer and the session span's context (the openai planner's `chat` spans) */
  trace?: { tracer: Tracer; parent: Context };
}

export interface Planner {
  readonly type: 'scripted' | 'external' | 'openai';
  /** whether run() drives this planner (false: the caller drives it through execute()) */
  readonly autonomous: boolean;
  nextStep(input: PlannerInput): Promise<Array<Omit<Action, 'id'> & { id?: string }> | null>;
}
