/**
 * A loopback TCP proxy in front of PostgreSQL, so a test can take "the database" away without
 * touching the shared server: down() cuts every connection and refuses new ones, freeze()
 * keeps connections open but stops passing bytes (like a backend stopped with SIGSTOP),
 * up() restores service.
 */
import net from 'node:net';

export class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #mode: 'up' | 'down' | 'frozen' = 'up';

  constructor(targetUrl: string) {
    const u = new URL(targetUrl);
    this.#target = { host: u.hostname, port: Number(u.port || 5432) };
    this.#server = net.createServer((client) => this.#accept(client));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** The same URL, through the proxy. */
  url(targetUrl: string, port: number): string {
    const u = new URL(targetUrl);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  }

  down(): void {
    this.#mode = 'down';
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
  }

  freeze(): void {
    this.#mode = 'frozen';
    for (const [a, b] of this.#pairs) {
      // unpipe, not just pause: a piped stream resumes when its destination drains
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
  }

  up(): void {
    const wasFrozen = this.#mode === 'frozen';
    this.#mode = 'up';
    // A frozen connection stays dead (as a backend killed after SIGSTOP would): cut it.
    if (wasFrozen) this.down();
    this.#mode = 'up';
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    client.on('error', () => {});
    if (this.#mode === 'down') {
      client.destroy();
      return;
    }
    const server = net.connect(this.#target.port, this.#target.host);
    server.on('error', () => client.destroy());
    client.on('error', () => server.destroy());
    const pair: [net.Socket, net.Socket] = [client, server];
    this.#pairs.add(pair);
    const forget = () => this.#pairs.delete(pair);
    client.on('close', forget);
    server.on('close', forget);
    if (this.#mode === 'frozen') return; // accepted, never answered
    client.pipe(server);
    server.pipe(client);
  }
}
