/**
 * The supervisor's worker slots: one session host per piscina thread, its two ports (to the
 * supervisor, to the audit thread) and the restart policy that decides whether a dead one is
 * replaced. What a death means for the sessions that lived there is the supervisor's business
 * (it is told through `died`).
 *
 *   spawn(n) ──attachProducer──► audit thread (port B)
 *            ──piscina.run(HostTask, [port A to the host, port B])──► workers/session.worker.ts
 *   host ──supervisor.ready──► markReady(n)          the task rejects (thread died) ──► died(n)
 */
import type { PolicySource } from '../../src/policy/policy-source.ts';
import type { TracingSettings } from '../../src/telemetry/tracing.ts';
import { availableParallelism } from 'node:os';
import { MessageChannel, type Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { Piscina } from 'piscina';
import type { Config } from '../../config/schema.ts';
import { RestartPolicy } from '../../src/actor-system/supervision.ts';
import type { AuditApi } from '../../src/audit/audit-api.ts';
import { RuntimeError } from '../../src/errors.ts';
import type { Logger } from '../../src/log.ts';
import { MessagePortTransport } from '../../src/transport/message-port.ts';
import { workerEntry } from '../../src/worker-entry.ts';
import type { HostTask } from '../session/host-task.ts';
import type { SessionHostMessage } from '../session/messages.ts';
import type { SupervisorMessage } from './messages.ts';

export interface WorkerSlot {
  slot: number;
  /** names the asks this incarnation owns, so a replacement's asks are never failed with it */
  owner: string;
  transport: MessagePortTransport<SupervisorMessage, SessionHostMessage>;
  producerId: number;
  booted: boolean;
  ready: Promise<void>;
  onReady: () => void;
  threadId: number;
}

export interface SlotEvents {
  message(worker: WorkerSlot, message: SupervisorMessage): void;
  /** the worker's thread died (or its task failed); it is still registered when this is called */
  died(worker: WorkerSlot, err: unknown): void;
  /** a message to the host could not be encoded (it was not sent) */
  unsendable(message: SessionHostMessage, err: Error): void;
}

export class WorkerSlots {
  readonly #config: Config;
  readonly #audit: Comlink.Remote<AuditApi>;
  readonly #log: Logger;
  readonly #events: SlotEvents;
  readonly #slots = new Map<number, WorkerSlot>();
  readonly #restart: RestartPolicy;
  readonly count: number;
  #pool: Piscina | undefined;
  #generation = 0;
  restarts = 0;
  respawnStopped = false;
  /** the policy directory's text every host compiles; a respawned host gets the current one */
  policies: PolicySource | undefined;
  /** OTEL_* settings: each host exports its own spans */
  tracing: TracingSettings | undefined;

  constructor(config: Config, audit: Comlink.Remote<AuditApi>, log: Logger, events: SlotEvents) {
    this.#config = config;
    this.#audit = audit;
    this.#log = log;
    this.#events = events;
    this.#restart = new RestartPolicy(
      config.runtime.max_restarts,
      config.runtime.restart_window_seconds * 1000,
    );
    this.count = config.runtime.workers > 0 ? config.runtime.workers : Math.max(1, availableParallelism());
  }

  async start(): Promise<void> {
    const entry = workerEntry('session');
    this.#pool = new Piscina({
      filename: entry.filename,
      execArgv: entry.execArgv,
      minThreads: this.count,
      maxThreads: this.count,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      resourceLimits: { maxOldGenerationSizeMb: this.#config.runtime.worker_max_memory_mb },
    });
    // A worker that dies while idle surfaces here; without a listener it would crash the process.
    this.#pool.on('error', (err: Error) => this.#log.error({ err }, 'pool worker error'));
    await Promise.all(Array.from({ length: this.count }, (_, slot) => this.#spawn(slot)));
  }

  get(slot: number): WorkerSlot | undefined {
    return this.#slots.get(slot);
  }

  /** The slots that have a worker now. */
  slots(): IterableIterator<number> {
    return this.#slots.keys();
  }

  get size(): number {
    return this.#slots.size;
  }

  /** True while `worker` is its slot's current incarnation (not a dead one, nor replaced). */
  isCurrent(worker: WorkerSlot): boolean {
    return this.#slots.get(worker.slot) === worker;
  }

  post(slot: number, message: SessionHostMessage): void {
    this.#slots.get(slot)?.transport.send(message);
  }

  /** The host said supervisor.ready: sessions placed on it may go. */
  markReady(worker: WorkerSlot, threadId: number): void {
    worker.booted = true;
    worker.threadId = threadId;
    this.#restart.recordBoot();
    worker.onReady();
  }

  /**
   * Forgets a dead worker and starts its replacement at once (new sessions wait for it), unless
   * workers keep dying (then it stops respawning and returns false).
   */
  replace(worker: WorkerSlot): boolean {
    this.#slots.delete(worker.slot);
    worker.transport.close();
    this.restarts++;
    if (!this.#restart.recordDeath({ duringBoot: !worker.booted })) {
      this.respawnStopped = true;
      return false;
    }
    this.#spawn(worker.slot).catch((err) => this.#log.error({ err }, 'respawn failed'));
    return true;
  }

  /**
   * Closes a dead worker's audit port. Only after its sessions' failure events were appended:
   * the audit actor first takes in what was still queued on that port, so the chains continue.
   */
  detachAudit(worker: WorkerSlot): void {
    this.#audit.detachProducer(worker.producerId).catch(() => {});
  }

  /** For tests and operations: the piscina threads (to kill one, say). */
  get threads(): readonly Worker[] {
    return this.#pool?.threads ?? [];
  }

  /** Ends the pool and closes every port (after the hosts were asked to shut down). */
  async stop(): Promise<void> {
    await this.#pool?.destroy();
    for (const worker of this.#slots.values()) worker.transport.close();
    this.#slots.clear();
  }

  /**
   * Starts a session host on the pool. The slot is registered at once (sessions placed on it
   * wait for `ready`), so a crashed worker's replacement is visible without a gap.
   */
  #spawn(slot: number): Promise<void> {
    const toHost = new MessageChannel();
    const toAudit = new MessageChannel();
    const transport = new MessagePortTransport<SupervisorMessage, SessionHostMessage>(toHost.port1, {
      // Data that cannot be encoded fails its own ask, never the main thread (issue 15).
      onUnsendable: (message, err) => this.#events.unsendable(message, err),
    });
    let onReady: () => void = () => {};
    let onBootFailed: (err: unknown) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onBootFailed = reject;
    });
    ready.catch(() => {});
    const worker: WorkerSlot = {
      slot,
      owner: `worker:${slot}#${++this.#generation}`,
      transport,
      producerId: -1,
      booted: false,
      ready,
      onReady,
      threadId: -1,
    };
    this.#slots.set(slot, worker);
    transport.onMessage((m) => this.#events.message(worker, m));

    void (async () => {
      try {
        worker.producerId = await this.#audit.attachProducer(
          Comlink.transfer(toAudit.port2, [toAudit.port2]),
        );
      } catch (err) {
        onBootFailed(err);
        return;
      }
      const task: HostTask = {
        slot,
        supervisorPort: toHost.port2,
        auditPort: toAudit.port1,
        config: this.#config,
        ...(this.policies ? { policies: this.policies } : {}),
        ...(this.tracing ? { tracing: this.tracing } : {}),
      };
      this.#pool!.run(task, { transferList: [toHost.port2, toAudit.port1] }).then(
        () => this.#log.debug({ slot }, 'session host finished'),
        (err: unknown) => {
          onBootFailed(new RuntimeError('worker_crashed', `worker ${slot} died while booting`));
          this.#events.died(worker, err);
        },
      );
    })();
    return ready;
  }
}
