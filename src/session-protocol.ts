/**
 * The session protocol: every command a session takes, its reply, and how the supervisor treats
 * it, defined once. Every way in sends these through one SessionClient:
 *
 *   library Session / HTTP / CLI ──► Runtime ──► SessionClient.send(command)
 *     ├─ Supervisor (this node)  ──session.command──► worker: actors/session/commands.ts
 *     └─ ClusterNode (owner elsewhere) ──cluster.command over NATS──► owner's Supervisor ──► …
 *
 * Adding a command: its schema and traits here, its handler in actors/session/commands.ts, and
 * its caller (a Session method, a route). Nothing between them names commands one by one.
 *
 * Frames between our own threads are not parsed again (they come from our own supervisor);
 * frames from another node are (ClusterRequestSchema in src/cluster/messages.ts).
 */
import { z } from 'zod';
import {
  ApprovalDecisionSchema,
  AssignedActionSchema,
  type ActionResult,
  type CapabilitySummary,
  SessionContextSchema,
  type SessionState,
  type SessionStatus,
} from './contracts.ts';
import { SessionKeySchema } from './session-key.ts';

const session = SessionKeySchema;

export const SessionCommandSchema = z.discriminatedUnion('command', [
  /** starts a session: the supervisor places it on a worker, the worker builds its graph */
  z.strictObject({ command: z.literal('start'), ctx: SessionContextSchema }),
  /** runs a batch of actions (external planner); the caller assigns ids that were not given */
  z.strictObject({ command: z.literal('execute'), session, actions: z.array(AssignedActionSchema).min(1) }),
  /** runs an autonomous planner (scripted, openai) to its end */
  z.strictObject({ command: z.literal('run'), session }),
  z.strictObject({
    command: z.literal('approve'),
    session,
    action_id: z.string().min(1),
    decision: ApprovalDecisionSchema,
  }),
  z.strictObject({ command: z.literal('cancel'), session, reason: z.string() }),
  /** ends the session once its in-flight actions finish; `reason` goes into session_ended */
  z.strictObject({ command: z.literal('end'), session, reason: z.string().max(1000).optional() }),
  z.strictObject({ command: z.literal('status'), session }),
  /** the session's capability graph as it is now (MCP servers come and go while it runs) */
  z.strictObject({ command: z.literal('capabilities'), session }),
]);
export type SessionCommand = z.infer<typeof SessionCommandSchema>;
export type CommandName = SessionCommand['command'];
export type CommandOf<K extends CommandName> = Extract<SessionCommand, { command: K }>;
/** A command for a session that exists (every command but start). */
export type ExistingSessionCommand = Exclude<SessionCommand, { command: 'start' }>;

export interface StartedSession {
  session_id: string;
  state: SessionState;
  capabilities: CapabilitySummary[];
}

/** What each command answers. */
export interface SessionReplies {
  start: StartedSession;
  execute: ActionResult[];
  run: SessionStatus;
  approve: null;
  cancel: SessionStatus;
  end: SessionStatus;
  status: SessionStatus;
  capabilities: CapabilitySummary[];
}
export type ReplyTo<K extends CommandName> = SessionReplies[K];

/**
 * How the supervisor and the cluster treat a command of an existing session:
 * - `deadline`: `control` commands answer fast (CONTROL_ASK_TIMEOUT_MS); `session` ones last as
 *   long as the work (bounded by the session's own timeouts);
 * - `whenEnded`: `refuse` (session_not_active) or `final_status` (the status kept when the
 *   supervisor ended the session itself, after its worker crashed);
 * - `onWorkerCrash`: `fail` (worker_crashed), `final_status` (the status the supervisor kept), or
 *   `failed_results` (each action of the command fails with worker_crashed, as a result);
 * - `drained`: a stopping runtime waits for it (up to its drain timeout);
 * - `answersWhenNodeLost`: in a cluster, a session whose node was lost still answers it (with
 *   its failed status);
 * - `repeatable`: a question, not an act: the cluster may send it again when a request may have
 *   been lost (NATS reconnecting).
 */
export interface CommandTraits {
  deadline: 'control' | 'session';
  whenEnded: 'refuse' | 'final_status';
  onWorkerCrash: 'fail' | 'final_status' | 'failed_results';
  drained: boolean;
  answersWhenNodeLost: boolean;
  repeatable: boolean;
}

export const COMMAND_TRAITS: Readonly<Record<ExistingSessionCommand['command'], Readonly<CommandTraits>>> = {
  execute: {
    deadline: 'session',
    whenEnded: 'refuse',
    onWorkerCrash: 'failed_results',
    drained: true,
    answersWhenNodeLost: false,
    repeatable: false,
  },
  run: {
    deadline: 'session',
    whenEnded: 'refuse',
    onWorkerCrash: 'final_status',
    drained: true,
    answersWhenNodeLost: false,
    repeatable: false,
  },
  approve: {
    deadline: 'control',
    whenEnded: 'refuse',
    onWorkerCrash: 'fail',
    drained: false,
    answersWhenNodeLost: false,
    repeatable: false,
  },
  cancel: {
    deadline: 'control',
    whenEnded: 'final_status',
    onWorkerCrash: 'fail',
    drained: false,
    answersWhenNodeLost: true,
    repeatable: false,
  },
  end: {
    deadline: 'session',
    whenEnded: 'final_status',
    onWorkerCrash: 'fail',
    drained: true,
    answersWhenNodeLost: true,
    repeatable: false,
  },
  status: {
    deadline: 'control',
    whenEnded: 'final_status',
    onWorkerCrash: 'fail',
    drained: false,
    answersWhenNodeLost: true,
    repeatable: true,
  },
  capabilities: {
    deadline: 'control',
    whenEnded: 'refuse',
    onWorkerCrash: 'fail',
    drained: false,
    answersWhenNodeLost: false,
    repeatable: true,
  },
};

/** The one way to send a session command: the local supervisor, or the cluster's forwarder. */
export interface SessionClient {
  send<C extends SessionCommand>(command: C): Promise<ReplyTo<C['command']>>;
}
