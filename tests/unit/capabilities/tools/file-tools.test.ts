import { mkdir, readFile, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteFileTool } from '../../../../src/capabilities/tools/delete-file.ts';
import { READ_FILE_MAX_BYTES, readFileTool } from '../../../../src/capabilities/tools/read-file.ts';
import { writeFileTool } from '../../../../src/capabilities/tools/write-file.ts';
import { makeSandbox, type TempSandbox } from './tool-context.ts';

describe('write_file, read_file and delete_file inside the sandbox', () => {
  let sandbox: TempSandbox;
  beforeEach(async () => {
    sandbox = await makeSandbox();
  });
  afterEach(() => sandbox.cleanup());

  it('round-trips unicode, emoji and newlines, counting UTF-8 bytes', async () => {
    const content = 'línea 1\nZeile 2 — ünïcödé\r\n日本語 🚀👩‍💻\n\n';
    const written = await writeFileTool.run({ path: 'notes.txt', content }, sandbox.ctx());
    expect(written).toEqual({ bytes: Buffer.byteLength(content, 'utf8') });
    await expect(readFileTool.run({ path: 'notes.txt' }, sandbox.ctx())).resolves.toEqual({ content });
    expect(await readFile(path.join(sandbox.dir, 'notes.txt'), 'utf8')).toBe(content);
  });

  it('creates missing parent directories and overwrites an existing file', async () => {
    await writeFileTool.run({ path: 'a/b/c/deep.txt', content: 'first version' }, sandbox.ctx());
    await writeFileTool.run({ path: 'a/b/c/deep.txt', content: 'v2' }, sandbox.ctx());
    await expect(readFileTool.run({ path: 'a/b/c/deep.txt' }, sandbox.ctx())).resolves.toEqual({
      content: 'v2',
    });
  });

  it('writes and reads an empty file', async () => {
    await expect(writeFileTool.run({ path: 'empty', content: '' }, sandbox.ctx())).resolves.toEqual({
      bytes: 0,
    });
    await expect(readFileTool.run({ path: 'empty' }, sandbox.ctx())).resolves.toEqual({ content: '' });
  });

  it('accepts names that merely start with two dots, and ./ segments that stay inside', async () => {
    await writeFileTool.run({ path: '..hidden', content: 'x' }, sandbox.ctx());
    await writeFileTool.run({ path: './sub/../kept.txt', content: 'y' }, sandbox.ctx());
    expect(await readFile(path.join(sandbox.dir, '..hidden'), 'utf8')).toBe('x');
    expect(await readFile(path.join(sandbox.dir, 'kept.txt'), 'utf8')).toBe('y');
  });

  it('reports file_not_found for a missing file, and under a missing directory', async () => {
    await expect(readFileTool.run({ path: 'missing.txt' }, sandbox.ctx())).rejects.toMatchObject({
      code: 'file_not_found',
    });
    await expect(readFileTool.run({ path: 'no/such/dir.txt' }, sandbox.ctx())).rejects.toMatchObject({
      code: 'file_not_found',
    });
  });

  it('refuses to read a directory, with tool_error', async () => {
    await mkdir(path.join(sandbox.dir, 'folder'));
    await expect(readFileTool.run({ path: 'folder' }, sandbox.ctx())).rejects.toMatchObject({
      code: 'tool_error',
      message: expect.stringContaining('directory'),
    });
  });

  it('refuses to read a file over 10 MiB, with a clear tool_error', async () => {
    await writeFile(path.join(sandbox.dir, 'big.bin'), Buffer.alloc(READ_FILE_MAX_BYTES + 1, 0x61));
    await expect(readFileTool.run({ path: 'big.bin' }, sandbox.ctx())).rejects.toMatchObject({
      code: 'tool_error',
      message: expect.stringContaining('10 MiB'),
    });
  });

  it('reads a file of exactly 10 MiB', async () => {
    await writeFile(path.join(sandbox.dir, 'edge.bin'), Buffer.alloc(READ_FILE_MAX_BYTES, 0x61));
    const { content } = (await readFileTool.run({ path: 'edge.bin' }, sandbox.ctx())) as { content: string };
    expect(content.length).toBe(READ_FILE_MAX_BYTES);
  });

  it('deletes a file, then reports file_not_found for it', async () => {
    await writeFileTool.run({ path: 'doomed.txt', content: 'bye' }, sandbox.ctx());
    await expect(deleteFileTool.run({ path: 'doomed.txt' }, sandbox.ctx())).resolves.toEqual({
      deleted: true,
    });
    await expect(stat(path.join(sandbox.dir, 'doomed.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(deleteFileTool.run({ path: 'doomed.txt' }, sandbox.ctx())).rejects.toMatchObject({
      code: 'file_not_found',
    });
  });

  it('does not delete a directory', async () => {
    await mkdir(path.join(sandbox.dir, 'keep'));
    await expect(deleteFileTool.run({ path: 'keep' }, sandbox.ctx())).rejects.toMatchObject({
      code: 'tool_error',
    });
    expect((await stat(path.join(sandbox.dir, 'keep'))).isDirectory()).toBe(true);
  });

  it('follows a symlink that stays inside the sandbox', async () => {
    await writeFileTool.run({ path: 'real/target.txt', content: 'inside' }, sandbox.ctx());
    await symlink(path.join(sandbox.dir, 'real'), path.join(sandbox.dir, 'alias'));
    await expect(readFileTool.run({ path: 'alias/target.txt' }, sandbox.ctx())).resolves.toEqual({
      content: 'inside',
    });
  });

  it('works when the sandbox directory itself is reached through a symlink', async () => {
    const linkedRoot = `${sandbox.dir}-link`;
    await symlink(sandbox.dir, linkedRoot);
    try {
      const ctx = sandbox.ctx({ sandboxDir: linkedRoot });
      await writeFileTool.run({ path: 'via-link.txt', content: 'ok' }, ctx);
      await expect(readFileTool.run({ path: 'via-link.txt' }, ctx)).resolves.toEqual({ content: 'ok' });
    } finally {
      await unlink(linkedRoot);
    }
  });
});
