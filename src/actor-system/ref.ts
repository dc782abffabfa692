/**
 * Addresses are data: a ref is a small path string that can ride inside a msgpack frame
 * and is resolved by the registry of the thread that holds it.
 *   runtime://supervisor
 *   runtime://workers/<n>            (the session host on pool thread n)
 *   runtime://workers/<n>/sessions/<session_id>
 *   runtime://audit
 */
export type Ref = `runtime://${string}`;

export const SUPERVISOR_REF: Ref = 'runtime://supervisor';
export const AUDIT_REF: Ref = 'runtime://audit';

export function workerRef(slot: number): Ref {
  return `runtime://workers/${slot}`;
}

export function sessionRef(slot: number, sessionId: string): Ref {
  return `runtime://workers/${slot}/sessions/${encodeURIComponent(sessionId)}`;
}

/** Parses a session ref back into its worker slot and session id. */
export function parseSessionRef(ref: string): { slot: number; sessionId: string } | undefined {
  const m = /^runtime:\/\/workers\/(\d+)\/sessions\/(.+)$/.exec(ref);
  return m ? { slot: Number(m[1]), sessionId: decodeURIComponent(m[2]!) } : undefined;
}
