import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '../../errors.ts';
import { requireString } from './params.ts';
import { fsError, O_NOFOLLOW, resolveSandboxPath } from './sandbox-path.ts';
import type { BuiltinTool } from './tool.ts';

/** `write_file` {path, content} → {bytes}: writes UTF-8 text, creating parent directories. */
export const writeFileTool: BuiltinTool = {
  name: 'write_file',
  description: "Writes a UTF-8 text file in the session's sandbox directory, creating parent directories.",
  version: '1.0.0',
  inputSchema: {
    type: 'object',
    properties: {
      path: { type: 'string', minLength: 1, description: 'relative to the sandbox' },
      content: { type: 'string' },
    },
    required: ['path', 'content'],
    additionalProperties: false,
  },
  async run(params, ctx) {
    const relPath = requireString('write_file', params, 'path');
    const content = requireString('write_file', params, 'content');
    try {
      const target = await resolveSandboxPath(ctx.sandboxDir, relPath);
      // The parents are real (resolved) or missing, so mkdir only creates inside the sandbox.
      await mkdir(path.dirname(target), { recursive: true });
      const data = Buffer.from(content, 'utf8');
      if (ctx.sandboxMaxBytes > 0)
        await assertQuota(ctx.sandboxDir, target, data.byteLength, ctx.sandboxMaxBytes);
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | O_NOFOLLOW;
      const handle = await open(target, flags, 0o644);
      try {
        await handle.writeFile(data);
      } finally {
        await handle.close();
      }
      return { bytes: data.byteLength };
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      throw fsError('write_file', relPath, err);
    }
  },
};

/**
 * SANDBOX_MAX_BYTES (issue 15): the write is refused, the sandbox left as it was, when the
 * sandbox would hold more than `max` bytes afterwards (the file's old size no longer counts).
 */
async function assertQuota(sandbox: string, target: string, adding: number, max: number): Promise<void> {
  const used = await bytesUnder(sandbox);
  const replaced = await lstat(target).then(
    (s) => (s.isFile() ? s.size : 0),
    () => 0,
  );
  const after = used - replaced + adding;
  if (after > max) {
    throw new RuntimeError(
      'sandbox_quota_exceeded',
      `write_file: the sandbox would hold ${after} bytes, more than SANDBOX_MAX_BYTES (${max})`,
      { used, adding, max },
    );
  }
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    total += await lstat(path.join(entry.parentPath, entry.name)).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}
