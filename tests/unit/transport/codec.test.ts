import { MessageChannel } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asCarriedJson, asCarriedString, decodeFrame, encodeFrame } from '../../../src/transport/codec.ts';
import { MessagePortTransport } from '../../../src/transport/message-port.ts';

const tricky = [
  'plain',
  '',
  'tab\there\nnew line\r\nand \\ backslash',
  'NUL \u0000 inside',
  'emoji 👋🏽 and 中文 and עברית',
  'line sep \u2028 para sep \u2029',
  'x'.repeat(100_000),
];

describe('msgpack frames', () => {
  it('round-trip unicode, escapes, NUL and long strings exactly', () => {
    const messages = tricky.map((s, i) => ({ type: 'session.execute', req: i, params: { message: s, nested: { s, list: [s, i] } } }));
    expect(decodeFrame(encodeFrame(messages))).toEqual(messages);
  });

  it('round-trip any JSON value, a "__proto__" key arriving as "__proto_" (asCarriedJson)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 20 }), (values) => {
        // JSON has no -0; msgpack keeps it, and that is fine for JSON payloads.
        const text = JSON.stringify(values);
        const decoded = decodeFrame(encodeFrame(JSON.parse(text)));
        expect(decoded).toStrictEqual(JSON.parse(asCarriedJson(text)));
      }),
      // Found by this property: a "__proto__" key, which msgpackr renames.
      { numRuns: 300, examples: [[[JSON.parse('{"__proto__":"","a":{"__proto__":{"b":1}}}')]]] },
    );
  });

  it('round-trip any JSON value with any UTF-16 text, lone surrogates arriving as U+FFFD (asCarriedJson)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ stringUnit: 'binary' }), { maxLength: 20 }), (values) => {
        const text = JSON.stringify(values);
        const decoded = decodeFrame(encodeFrame(JSON.parse(text)));
        expect(decoded).toStrictEqual(JSON.parse(asCarriedJson(text)));
      }),
      { numRuns: 300, examples: [[['cut \uD83D here', { '\uDC00': 'x\uD800\uDC00y' }]]] },
    );
  });

  it('asCarriedString and asCarriedJson replace lone surrogates only', () => {
    expect(asCarriedString('a\uD800b\uDC00c')).toBe('a\uFFFDb\uFFFDc');
    expect(asCarriedString('pair \uD83D\uDD25 kept')).toBe('pair \uD83D\uDD25 kept');
    // A literal backslash before "ud800" is text, not an escape.
    const text = JSON.stringify({ a: '\\ud800', b: '\uD800', c: '\uD83D\uDD25' });
    expect(JSON.parse(asCarriedJson(text))).toEqual({ a: '\\ud800', b: '\uFFFD', c: '\uD83D\uDD25' });
  });

  it('asCarriedJson renames only keys, never text inside strings', () => {
    const text = JSON.stringify({ a: '{"__proto__":1}', list: [{ __x: 1 }], s: ',"__proto__":' });
    expect(asCarriedJson(text)).toBe(text);
    expect(asCarriedJson('{"__proto__":{"__proto__":[{"__proto__":0}]}}')).toBe(
      '{"__proto_":{"__proto_":[{"__proto_":0}]}}',
    );
  });

  it('produce an exact-size buffer of their own (safe to transfer)', () => {
    const frame = encodeFrame([{ a: 1 }]);
    expect(frame.byteOffset).toBe(0);
    expect(frame.buffer.byteLength).toBe(frame.byteLength);
  });

  it('refuse a frame that is not a batch', () => {
    const notBatch = encodeFrame([1]).slice(1); // a bare integer
    expect(() => decodeFrame(notBatch)).toThrow(/array of messages/);
  });
});

describe('MessagePortTransport', () => {
  it('sends messages of one tick as one transferred frame, in order', async () => {
    const { port1, port2 } = new MessageChannel();
    const a = new MessagePortTransport<unknown, { type: string; n: number; text: string }>(port1);
    const b = new MessagePortTransport<{ type: string; n: number; text: string }, unknown>(port2);
    const received: Array<{ n: number; text: string }> = [];
    const all = new Promise<void>((resolve) =>
      b.onMessage((m) => {
        received.push(m);
        if (received.length === tricky.length) resolve();
      }),
    );
    for (const [n, text] of tricky.entries()) a.send({ type: 'test.message', n, text });
    await all;
    expect(received.map((m) => m.n)).toEqual(tricky.map((_, i) => i));
    expect(received.map((m) => m.text)).toEqual(tricky);
    expect(a.stats).toMatchObject({ framesSent: 1, messagesSent: tricky.length });
    a.close();
    b.close();
  });
});
