import { RuntimeError } from '../../errors.ts';
import { optionalInteger } from './params.ts';
import type { BuiltinTool } from './tool.ts';

const MAX_SLEEP_MS = 3_600_000;

/** `sleep` {ms} → {slept_ms}: waits, and stops as soon as the action is aborted. */
export const sleepTool: BuiltinTool = {
  name: 'sleep',
  description: 'Waits for the given number of milliseconds.',
  version: '1.0.0',
  readOnly: true,
  inputSchema: {
    type: 'object',
    properties: { ms: { type: 'integer', minimum: 0, maximum: MAX_SLEEP_MS } },
    required: ['ms'],
    additionalProperties: false,
  },
  async run(params, ctx) {
    const ms = optionalInteger('sleep', params, 'ms', 0, MAX_SLEEP_MS);
    if (ms === undefined) throw new RuntimeError('invalid_params', 'sleep: "ms" is required');
    const { signal } = ctx;
    return await new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new RuntimeError('action_cancelled', 'sleep was aborted'));
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new RuntimeError('action_cancelled', 'sleep was aborted'));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve({ slept_ms: ms });
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  },
};
