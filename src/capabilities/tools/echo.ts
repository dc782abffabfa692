import { requireString } from './params.ts';
import type { BuiltinTool } from './tool.ts';

/** `echo` {message} → {message}: returns its input, for wiring checks and tests. */
export const echoTool: BuiltinTool = {
  name: 'echo',
  description: 'Returns the message it is given.',
  version: '1.0.0',
  readOnly: true,
  inputSchema: {
    type: 'object',
    properties: { message: { type: 'string' } },
    required: ['message'],
    additionalProperties: false,
  },
  async run(params) {
    return { message: requireString('echo', params, 'message') };
  },
};
