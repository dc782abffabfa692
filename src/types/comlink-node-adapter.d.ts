// comlink ships node-adapter.d.ts beside the .mjs, which TypeScript's NodeNext resolution
// does not pick up for an .mjs specifier; re-declare it for worker_threads endpoints.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  import type { MessagePort, Worker } from 'node:worker_threads';
  export default function nodeEndpoint(nep: MessagePort | Worker): Endpoint;
}
