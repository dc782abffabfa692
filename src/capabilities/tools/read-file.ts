import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { RuntimeError } from '../../errors.ts';
import { requireString } from './params.ts';
import { fsError, O_NOFOLLOW, resolveSandboxPath } from './sandbox-path.ts';
import type { BuiltinTool } from './tool.ts';

/** The largest file read_file returns (10 MiB). */
export const READ_FILE_MAX_BYTES = 10 * 1024 * 1024;

/** `read_file` {path} → {content}: reads a UTF-8 file from the session's sandbox. */
export const readFileTool: BuiltinTool = {
  name: 'read_file',
  description: "Reads a UTF-8 text file from the session's sandbox directory.",
  version: '1.0.0',
  readOnly: true,
  inputSchema: {
    type: 'object',
    properties: { path: { type: 'string', minLength: 1, description: 'relative to the sandbox' } },
    required: ['path'],
    additionalProperties: false,
  },
  async run(params, ctx) {
    const relPath = requireString('read_file', params, 'path');
    try {
      const target = await resolveSandboxPath(ctx.sandboxDir, relPath);
      const handle = await open(target, constants.O_RDONLY | O_NOFOLLOW);
      try {
        const stat = await handle.stat();
        if (stat.isDirectory())
          throw new RuntimeError('tool_error', `read_file: "${relPath}" is a directory`);
        // A FIFO or device would block or never end; only regular files are content.
        if (!stat.isFile())
          throw new RuntimeError('tool_error', `read_file: "${relPath}" is not a regular file`);
        if (stat.size > READ_FILE_MAX_BYTES) throw tooLarge(relPath, stat.size);
        // Read at most one byte past the cap, so a file that grew after stat is still refused.
        const buf = Buffer.alloc(READ_FILE_MAX_BYTES + 1);
        let filled = 0;
        for (;;) {
          const { bytesRead } = await handle.read(buf, filled, buf.length - filled, null);
          if (bytesRead === 0) break;
          filled += bytesRead;
          if (filled > READ_FILE_MAX_BYTES) throw tooLarge(relPath, filled);
        }
        return { content: buf.toString('utf8', 0, filled) };
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw fsError('read_file', relPath, err);
    }
  },
};

function tooLarge(relPath: string, size: number): RuntimeError {
  return new RuntimeError(
    'tool_error',
    `read_file: "${relPath}" is ${size} bytes, over the ${READ_FILE_MAX_BYTES}-byte (10 MiB) limit`,
  );
}
