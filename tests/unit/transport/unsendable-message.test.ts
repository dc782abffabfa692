/**
 * Issue 15: a message the codec cannot encode (nested deep enough to overflow msgpack's
 * recursive packer) used to throw from the transport's microtask on the main thread and end the
 * process, taking every other message of its frame with it. With an onUnsendable handler only
 * that message is dropped and reported; the rest of the frame still leaves.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../../src/transport/codec.ts';
import { FrameBatcher } from '../../../src/transport/frame-batcher.ts';

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
}

describe('FrameBatcher with an unsendable message', () => {
  it('sends the others of the frame and reports the one that cannot be encoded', async () => {
    const frames: Uint8Array[] = [];
    const unsendable: Array<{ message: unknown; err: Error }> = [];
    const batcher = new FrameBatcher<Record<string, unknown>>(
      (frame) => frames.push(frame),
      (message, err) => unsendable.push({ message, err }),
    );
    batcher.push({ type: 'first', req: 1 });
    batcher.push({ type: 'deep', req: 2, data: nested(200_000) });
    batcher.push({ type: 'last', req: 3 });
    await Promise.resolve();

    expect(frames).toHaveLength(1);
    expect(decodeFrame(frames[0]!).map((m) => (m as { type: string }).type)).toEqual(['first', 'last']);
    expect(unsendable).toHaveLength(1);
    expect(unsendable[0]!.message).toMatchObject({ type: 'deep', req: 2 });
    expect(unsendable[0]!.err).toBeInstanceOf(RangeError);
    expect(batcher.stats.messagesSent).toBe(2);
  });
});
