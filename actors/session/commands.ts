/**
 * The worker's side of the session protocol (src/session-protocol.ts): what each command of an
 * existing session does to its SessionActor. The one place commands are dispatched; `start`
 * is the host's own (it builds the actor: session-host.ts #start).
 *
 * The table's type ties every handler to its command's reply, so a handler that answers the
 * wrong shape, or a command without a handler, does not compile.
 */
import type { CommandOf, ExistingSessionCommand, ReplyTo } from '../../src/session-protocol.ts';
import type { SessionActor } from './session-actor.ts';

type Handlers = {
  [K in ExistingSessionCommand['command']]: (
    actor: SessionActor,
    command: CommandOf<K>,
  ) => ReplyTo<K> | Promise<ReplyTo<K>>;
};

const HANDLERS: Handlers = {
  execute: (actor, { actions }) => actor.execute(actions),
  run: (actor) => actor.run(),
  approve: (actor, { action_id, decision }) => {
    actor.approve(action_id, decision, decision.decided_by ?? 'unknown');
    return null;
  },
  cancel: (actor, { reason }) => actor.cancel(reason),
  end: (actor, { reason }) => actor.end(reason),
  status: (actor) => actor.status(),
  capabilities: (actor) => actor.capabilities,
};

/** Runs one command on its session's actor; a handler that throws rejects. */
export function handleCommand(actor: SessionActor, command: ExistingSessionCommand): unknown {
  const handler = HANDLERS[command.command] as (
    actor: SessionActor,
    command: ExistingSessionCommand,
  ) => unknown;
  return handler(actor, command);
}
