/**
 * The loopback redirect URI of a login (RFC 8252 §7.3): a one-use HTTP listener on 127.0.0.1
 * that takes the authorization server's redirect back from the person's browser.
 *
 *   listen(port) → http://127.0.0.1:<port>/callback
 *   expect(state) → resolves with ?code=… of the redirect that carries this state
 *                   rejects on ?error=…, or when nobody comes back in time
 *
 * Anything on this machine can send a request to the port, so a callback counts only with the
 * state this login sent (not guessable); the page shown reflects nothing of the request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RuntimeError } from '../../../errors.ts';
import { printable } from './auth-flow.ts';

const CALLBACK_PATH = '/callback';

const PAGE = (title: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><p>${title}</p><p>You can close this window.</p>\n`;

export class LoopbackRedirect {
  readonly url: string;
  readonly #server: Server;
  #waiting: { state: string; resolve(code: string): void; reject(err: Error): void } | undefined;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.url = `http://127.0.0.1:${port}${CALLBACK_PATH}`;
    server.on('request', (req, res) => this.#onRequest(req, res));
  }

  /** Listens on 127.0.0.1 (port 0: any free one). */
  static listen(port = 0): Promise<LoopbackRedirect> {
    const server = createServer();
    server.requestTimeout = 10_000;
    server.headersTimeout = 10_000;
    return new Promise((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new RuntimeError(
            'mcp_authorization_failed',
            `cannot listen for the login's redirect on 127.0.0.1:${port}: ${err.message}`,
          ),
        ),
      );
      server.listen(port, '127.0.0.1', () => {
        resolve(new LoopbackRedirect(server, (server.address() as AddressInfo).port));
      });
    });
  }

  /** The code of the redirect that carries `state`, within `timeoutMs`. */
  expect(state: string, timeoutMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        reject(
          new RuntimeError(
            'mcp_authorization_failed',
            `nobody completed the login within ${Math.round(timeoutMs / 1000)} s (no redirect reached ${this.url})`,
          ),
        );
      }, timeoutMs);
      this.#waiting = {
        state,
        resolve: (code) => {
          clearTimeout(timer);
          resolve(code);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }

  close(): Promise<void> {
    this.#waiting?.reject(new RuntimeError('mcp_authorization_failed', 'the login was abandoned'));
    this.#waiting = undefined;
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const answer = (status: number, title: string) => {
      res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'",
      });
      res.end(PAGE(title));
    };
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
      answer(404, 'Not found');
      return;
    }
    const waiting = this.#waiting;
    if (!waiting || url.searchParams.get('state') !== waiting.state) {
      answer(400, 'This is not the login semibot-runtime is waiting for.');
      return;
    }
    this.#waiting = undefined;
    const error = url.searchParams.get('error');
    if (error !== null) {
      answer(400, 'The authorization was not granted.');
      const description = url.searchParams.get('error_description');
      waiting.reject(
        new RuntimeError(
          'mcp_authorization_failed',
          `the authorization server answered ${printable(error, 300)}${description ? `: ${printable(description, 300)}` : ''}`,
        ),
      );
      return;
    }
    const code = url.searchParams.get('code');
    if (!code) {
      answer(400, 'The redirect carries no authorization code.');
      waiting.reject(
        new RuntimeError('mcp_authorization_failed', 'the redirect carried no authorization code'),
      );
      return;
    }
    answer(200, 'semibot-runtime is authorized.');
    waiting.resolve(code);
  }
}
