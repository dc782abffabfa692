/**
 * The Transport contract: messages delivered in order, batched per tick, with the same stats.
 * The MessagePort transport (threads) is the one implementation; the cluster sends its frames
 * with NATS request/reply (src/cluster/node.ts), not through a Transport.
 */
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MessagePortTransport } from '../../../src/transport/message-port.ts';
import type { Transport } from '../../../src/transport/transport.ts';

type Msg = { type: string; n: number; text?: string };
type Pair = { a: Transport<Msg, Msg>; b: Transport<Msg, Msg>; close(): void };


const implementations: Array<[string, () => Promise<Pair>]> = [
  [
    'MessagePortTransport',
    async () => {
      const { port1, port2 } = new MessageChannel();
      const a = new MessagePortTransport<Msg, Msg>(port1);
      const b = new MessagePortTransport<Msg, Msg>(port2);
      return {
        a,
        b,
        close: () => {
          a.close();
          b.close();
        },
      };
    },
  ],
];

function collect(t: Transport<Msg, Msg>, count: number): Promise<Msg[]> {
  const got: Msg[] = [];
  return new Promise((resolve) => {
    t.onMessage((m) => {
      got.push(m);
      if (got.length === count) resolve(got);
    });
  });
}

describe.each(implementations)('%s', (_name, make) => {
  it('delivers every message in order, one frame per tick, both ways', async () => {
    const { a, b, close } = await make();
    try {
      const atB = collect(b, 100);
      const atA = collect(a, 3);
      for (let n = 0; n < 100; n++) a.send({ type: 'session.execute', n, text: `m${n} ✓ \u0000` });
      for (let n = 0; n < 3; n++) b.send({ type: 'supervisor.reply', n });
      expect((await atB).map((m) => m.n)).toEqual(Array.from({ length: 100 }, (_, n) => n));
      expect((await atB)[7]).toEqual({ type: 'session.execute', n: 7, text: 'm7 ✓ \u0000' });
      expect((await atA).map((m) => m.n)).toEqual([0, 1, 2]);
      expect(a.stats).toMatchObject({ framesSent: 1, messagesSent: 100, framesReceived: 1 });
      expect(b.stats).toMatchObject({ framesSent: 1, messagesSent: 3, framesReceived: 1 });
    } finally {
      close();
    }
  });

  it('sends what is queued when closed', async () => {
    const { a, b, close } = await make();
    try {
      const atB = collect(b, 2);
      a.send({ type: 'x', n: 1 });
      a.send({ type: 'x', n: 2 });
      a.close();
      expect((await atB).map((m) => m.n)).toEqual([1, 2]);
    } finally {
      close();
    }
  });
});
