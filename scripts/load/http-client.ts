/**
 * A minimal HTTP/1.1 keep-alive client for the load test: one TCP connection, one request at
 * a time, requests written as one string, responses read by Content-Length.
 *
 * Used by `npm run load -- --client raw`. Why: the client shares the machine's two cores with
 * the daemon, so its CPU per request comes off the daemon's throughput. autocannon (a pure-JS
 * parser, a deep clone of its context per request) measured ~60 µs a request here, this ~30;
 * node:http's agent costs more than either. It still speaks real HTTP over a real socket, and
 * every answer is read whole and checked.
 */
import { type Socket, connect } from 'node:net';

export interface HttpAnswer {
  status: number;
  body: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class HttpConnection {
  readonly #socket: Socket;
  readonly #head: string;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: { resolve(a: HttpAnswer): void; reject(e: Error): void } | undefined;
  #error: Error | undefined;

  private constructor(socket: Socket, host: string, headers: Record<string, string>) {
    this.#socket = socket;
    this.#head = `Host: ${host}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    const fail = (err: Error) => {
      this.#error ??= err;
      const p = this.#pending;
      this.#pending = undefined;
      p?.reject(this.#error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the connection closed')));
  }

  /** Opens a connection; `headers` go on every request (Authorization, for one). */
  static open(url: URL, headers: Record<string, string> = {}): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      socket.once('connect', () => resolve(new HttpConnection(socket, url.host, headers)));
      socket.once('error', reject);
    });
  }

  /** One request; the answer when it has fully arrived. `body` is sent as JSON. */
  request(method: string, path: string, body?: string): Promise<HttpAnswer> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#pending) return Promise.reject(new Error('one request at a time'));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(
        body === undefined
          ? `${method} ${path} HTTP/1.1\r\n${this.#head}\r\n`
          : `${method} ${path} HTTP/1.1\r\n${this.#head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const end = this.#buffer.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.#buffer.toString('latin1', 0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length || /\r\ntransfer-encoding:/i.test(head)) {
      // The daemon answers JSON with a Content-Length; anything else is a failure of the run.
      this.#socket.destroy(new Error(`unexpected response framing: ${head.split('\r\n', 1)[0]}`));
      return;
    }
    const bodyStart = end + HEADER_END.length;
    const bodyEnd = bodyStart + Number(length[1]);
    if (this.#buffer.length < bodyEnd) return;
    const answer = {
      status: Number(head.slice(9, 12)),
      body: this.#buffer.toString('utf8', bodyStart, bodyEnd),
    };
    this.#buffer = this.#buffer.subarray(bodyEnd);
    const p = this.#pending;
    this.#pending = undefined;
    if (!p) {
      this.#socket.destroy(new Error('an answer nobody asked for'));
      return;
    }
    p.resolve(answer);
  }
}
