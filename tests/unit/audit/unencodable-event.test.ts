/**
 * The database store encodes a producer's events as soon as they arrive (RowBlock). An event
 * it cannot encode must not take the audit thread down or hold back the events around it: it
 * goes to the dead-letter file, and the producer still gets its acknowledgement for it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditActor } from '../../../actors/audit/audit-actor.ts';
import type { AuditMessage } from '../../../actors/audit/messages.ts';
import type { SessionHostMessage } from '../../../actors/session/messages.ts';
import { ConfigSchema } from '../../../config/schema.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { RowBlock } from '../../../src/audit/stores/postgres/row-block.ts';
import type { AuditStore } from '../../../src/audit/stores/store.ts';
import { MessagePortTransport } from '../../../src/transport/message-port.ts';
import { makeChain } from '../../helpers/audit-events.ts';

/** A store encoding rows that keeps them in memory and cannot encode events whose message is 'unencodable'. */
function pickyStore() {
  const stored: AuditEvent[] = [];
  const deadLettered: Array<{ event: AuditEvent; error: { message: string } }> = [];
  const store: AuditStore = {
    kind: 'database',
    init: async () => {},
    encoder: {
      encode(events) {
        if (events.some((e) => e.message === 'unencodable')) throw new TypeError('this value cannot be encoded');
        return RowBlock.encode(events);
      },
      write: async (pieces) => {
        for (const block of pieces as RowBlock[]) stored.push(...block.events());
      },
      events: (pieces) => (pieces as RowBlock[]).flatMap((b) => b.events()),
      outcomes: (pieces) => (pieces as RowBlock[]).flatMap((b) => b.outcomes()),
    },
    deadLetter: async (event, error) => {
      deadLettered.push({ event, error });
    },
    append: async (events) => {
      stored.push(...events);
    },
    query: async () => [],
    count: async () => 0,
    sessionEvents: async () => [],
    appendCheckpoint: async () => {},
    checkpoints: async () => [],
    unreadable: async () => [],
    deleteOlderThan: async () => 0,
    health: async () => ({ status: 'healthy' }),
    close: async () => {},
  };
  return { store, stored, deadLettered };
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('an event the database store cannot encode', () => {
  it('is dead-lettered and acknowledged; the rest of its frame is stored', async () => {
    dir = await mkdtemp(join(tmpdir(), 'semibot-unencodable-'));
    const config = ConfigSchema.parse({
      audit: { storage_type: 'database', log_dir: dir, flush_interval: 0.01, batch_size: 4 },
    }).audit;
    const { store, stored, deadLettered } = pickyStore();
    const actor = new AuditActor(config, store);
    await actor.init();
    const channel = new MessageChannel();
    actor.attachProducer(channel.port2);
    const producer = new MessagePortTransport<SessionHostMessage, AuditMessage>(channel.port1);
    let acked = 0;
    producer.onMessage((m) => {
      if (m.type === 'session.audit_ack') acked += m.count;
    });

    const events = makeChain('picky', 10, { at: (seq) => (seq === 6 ? { message: 'unencodable' } : {}) });
    producer.send({ type: 'audit.append', events });

    await expect.poll(() => acked).toBe(10);
    await actor.flush();
    expect(deadLettered.map((d) => d.event)).toStrictEqual([events[6]]);
    expect(deadLettered[0]!.error.message).toMatch(
      /cannot be encoded for the database: this value cannot be encoded/,
    );
    expect(stored).toStrictEqual(events.filter((_, i) => i !== 6));
    producer.close();
    await actor.close();
  });
});
