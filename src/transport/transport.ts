/**
 * The one seam every message between actors crosses. MessagePortTransport carries frames
 * between threads of one process; a networked transport (NATS) can implement the same
 * few methods for multi-node deployments.
 */
export interface Transport<In, Out> {
  /** queue a message; messages sent in the same tick leave together in one frame */
  send(message: Out): void;
  /** the single handler for incoming messages, in arrival order */
  onMessage(handler: (message: In) => void): void;
  /** frames sent / received so far (for metrics and benchmarks) */
  readonly stats: { framesSent: number; messagesSent: number; framesReceived: number };
  close(): void;
}
