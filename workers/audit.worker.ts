/**
 * Entry of the audit thread (a dedicated worker_threads Worker, outside the piscina pool).
 *
 *   main thread ──comlink (control)──► parentPort ──► AuditActor ──► store
 *   session hosts ──msgpack frames──► ports handed over with attachProducer()
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { AuditActor } from '../actors/audit/audit-actor.ts';
import type { AuditApi } from '../src/audit/audit-api.ts';
import type { Config } from '../config/schema.ts';
import { createAuditStore } from '../src/audit/stores/index.ts';
import { AuditMetrics } from '../src/metrics/audit-metrics.ts';

const { config } = workerData as { config: Config };
// Action and audit metrics are counted here, where every terminal event passes (see audit-metrics.ts).
const metrics = new AuditMetrics();
const actor = new AuditActor(config.audit, metrics.instrument(createAuditStore(config)), (msg) =>
  parentPort!.postMessage({ log: 'warn', msg }),
);
metrics.trackBuffer(() => actor.stats().buffered);

const auditApi: AuditApi = {
  init: () => actor.init(),
  attachProducer: (port: MessagePort) => actor.attachProducer(port),
  detachProducer: (id: number) => actor.detachProducer(id),
  appendChained: actor.appendChained.bind(actor),
  query: actor.query.bind(actor),
  count: actor.count.bind(actor),
  verify: actor.verify.bind(actor),
  checkpoint: () => actor.checkpoint(),
  deleteOlderThan: actor.deleteOlderThan.bind(actor),
  flush: () => actor.flush(),
  openFeed: (port: MessagePort) => actor.openFeed(port),
  setFeed: (wanted: boolean) => actor.setFeed(wanted),
  health: () => actor.health(),
  stats: () => actor.stats(),
  close: () => actor.close(),
  /** Prometheus text of this thread's registry */
  metrics: () => metrics.text(),
};

Comlink.expose(auditApi, nodeEndpoint(parentPort!));
