import { describe, expect, it } from 'vitest';
import { Batcher } from '../../../actors/audit/batcher.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { makeChain } from '../../helpers/audit-events.ts';

function setup({ batchSize = 3, intervalMs = 20, failFirst = 0 } = {}) {
  const written: AuditEvent[][] = [];
  const acks: Array<[number, number]> = [];
  const errors: number[] = [];
  let failures = failFirst;
  const batcher = new Batcher<readonly AuditEvent[]>({
    writer: {
      async write(pieces) {
        if (failures-- > 0) throw new Error('disk unplugged');
        written.push(pieces.flat());
      },
    },
    batchSize,
    flushIntervalMs: intervalMs,
    onStored: (producer, count) => acks.push([producer, count]),
    onWriteError: (_err, attempt) => errors.push(attempt),
  });
  return { batcher, written, acks, errors };
}

describe('the audit batcher', () => {
  it('writes a batch as soon as batch_size events wait', async () => {
    const { batcher, written } = setup({ batchSize: 3, intervalMs: 60_000 });
    batcher.add(0, makeChain('s', 3));
    await batcher.flush();
    expect(written.map((b) => b.length)).toEqual([3]);
  });

  it('writes a partial batch after flush_interval', async () => {
    const { batcher, written } = setup({ batchSize: 100, intervalMs: 20 });
    batcher.add(0, makeChain('s', 2));
    expect(written).toHaveLength(0);
    await expect.poll(() => written.length).toBe(1);
    expect(written[0]).toHaveLength(2);
  });

  it('acknowledges each producer only for its own events, after they are stored', async () => {
    const { batcher, acks } = setup({ batchSize: 10, intervalMs: 5 });
    batcher.add(0, makeChain('a', 2));
    batcher.add(1, makeChain('b', 3));
    expect(acks).toEqual([]);
    await batcher.flush();
    expect(acks.sort()).toEqual([
      [0, 2],
      [1, 3],
    ]);
  });

  it('retries a failed write with backoff and loses nothing', async () => {
    const { batcher, written, errors, acks } = setup({ batchSize: 2, failFirst: 3 });
    const events = makeChain('s', 2);
    batcher.add(7, events);
    await batcher.flush();
    expect(errors).toEqual([1, 2, 3]);
    expect(written).toEqual([events]);
    expect(acks).toEqual([[7, 2]]);
    expect(batcher.stats).toMatchObject({ stored: 2, failedWrites: 3 });
  });
});
