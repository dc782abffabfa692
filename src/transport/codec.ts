/**
 * msgpack frames for the data plane. A frame holds a batch of messages (an array), so one
 * postMessage carries everything a thread produced in one tick.
 *
 * Why the copy: msgpackr's result Buffer is a view on a shared, pooled backing buffer
 * (8 KiB and more); posting it as-is would copy that whole buffer, and transferring it
 * would detach the pool. We copy into a fresh, exact-size Uint8Array and transfer that.
 */
import { Packr } from 'msgpackr';

// Records: a frame carries each object shape's keys once, inline, then only values. Frames of
// audit events (25 fields, same shape) come out half the size and pack/unpack twice as fast
// as plain maps. No structures are shared between threads: every frame decodes on its own.
const packr = new Packr({ useRecords: true, moreTypes: false });

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

/**
 * One way a frame changes JSON: msgpackr never creates a "__proto__" key (a guard against
 * prototype pollution); it decodes it as "__proto_". This applies that to JSON text, so what
 * is hashed before a hop (audit events) is what arrives after it. Inside a JSON string a quote
 * is always escaped, so `{"` or `,"` before the name can only start a key.
 */
export function asCarriedJson(text: string): string {
  const renamed = text.includes('"__proto__":') ? text.replace(PROTO_KEY, '$1"__proto_":') : text;
  // JSON.stringify writes a lone surrogate as a \udXXX escape (and a valid pair as its raw
  // characters), so any such escape not itself escaped is a lone surrogate.
  return renamed.includes('\\ud') ? renamed.replace(LONE_SURROGATE_ESCAPE, '$1\\ufffd') : renamed;
}

/**
 * The other way a frame changes text: msgpack carries strings as UTF-8, which has no form for
 * a lone UTF-16 surrogate (half of an emoji cut in two, "\ud800" decoded from JSON); it
 * arrives as U+FFFD. This applies that to a string, so it can be hashed as it will be stored.
 */
export function asCarriedString(s: string): string {
  return s.isWellFormed() ? s : s.toWellFormed();
}

const PROTO_KEY = /([{,])"__proto__":/g;
// An even run of backslashes (escaped backslashes), then the escape of a UTF-16 surrogate.
const LONE_SURROGATE_ESCAPE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/gi;
