/**
 * msgpack frames for the data plane. A frame holds a batch of messages (an array), so one
 * postMessage carries everything a thread produced in one tick.
 *
 * Why the copy: msgpackr's result Buffer is a view on a shared, pooled backing buffer
 * (8 KiB and more); posting it as-is would copy that whole buffer, and transferring it
 * would detach the pool. We copy into a fresh, exact-size Uint8Array and transfer that.
 */
import { Packr } from 'msgpackr';

// Plain msgpack maps (no records), so frames decode on any thread without shared state.
const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

export function encodeFrame(messages: readonly unknown[]): Uint8Array {
  const packed = packr.pack(messages);
  const frame = new Uint8Array(packed.length);
  frame.set(packed);
  return frame;
}

export function decodeFrame(frame: Uint8Array): unknown[] {
  const messages = packr.unpack(frame) as unknown;
  if (!Array.isArray(messages)) throw new TypeError('a frame must hold an array of messages');
  return messages;
}
