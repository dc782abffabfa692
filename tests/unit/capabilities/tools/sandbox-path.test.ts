import { mkdir, mkdtemp, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteFileTool } from '../../../../src/capabilities/tools/delete-file.ts';
import { readFileTool } from '../../../../src/capabilities/tools/read-file.ts';
import { resolveSandboxPath } from '../../../../src/capabilities/tools/sandbox-path.ts';
import { writeFileTool } from '../../../../src/capabilities/tools/write-file.ts';
import { makeSandbox, type TempSandbox } from './tool-context.ts';

const OUTSIDE = { code: 'path_outside_sandbox' };

describe('file tools refuse paths that leave the sandbox', () => {
  let sandbox: TempSandbox;
  let outsideDir: string;
  let secret: string;

  beforeEach(async () => {
    sandbox = await makeSandbox();
    outsideDir = await mkdtemp(path.join(tmpdir(), 'semibot-outside-'));
    secret = path.join(outsideDir, 'secret.txt');
    await writeFile(secret, 'top secret');
  });
  afterEach(async () => {
    await sandbox.cleanup();
    await rm(outsideDir, { recursive: true, force: true });
  });

  it('refuses .. escapes, even ones that pass through an inside directory', async () => {
    const relativeToSecret = path.relative(sandbox.dir, secret);
    await mkdir(path.join(sandbox.dir, 'sub'));
    for (const p of [
      '..',
      '../x.txt',
      relativeToSecret,
      `sub/../../${path.basename(sandbox.dir)}-evil`,
      'sub/../../..',
    ]) {
      await expect(readFileTool.run({ path: p }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
      await expect(writeFileTool.run({ path: p, content: 'x' }, sandbox.ctx())).rejects.toMatchObject(
        OUTSIDE,
      );
      await expect(deleteFileTool.run({ path: p }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
    }
    expect(await readFile(secret, 'utf8')).toBe('top secret');
  });

  it('refuses absolute paths, even ones that point inside the sandbox', async () => {
    await writeFile(path.join(sandbox.dir, 'inside.txt'), 'x');
    for (const p of [secret, '/etc/passwd', path.join(sandbox.dir, 'inside.txt')]) {
      await expect(readFileTool.run({ path: p }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
    }
    await expect(deleteFileTool.run({ path: secret }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
    expect(await readFile(secret, 'utf8')).toBe('top secret');
  });

  it('refuses a symlinked file that points outside, for read, write and delete', async () => {
    await symlink(secret, path.join(sandbox.dir, 'link.txt'));
    await expect(readFileTool.run({ path: 'link.txt' }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
    await expect(
      writeFileTool.run({ path: 'link.txt', content: 'pwned' }, sandbox.ctx()),
    ).rejects.toMatchObject(OUTSIDE);
    await expect(deleteFileTool.run({ path: 'link.txt' }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
    expect(await readFile(secret, 'utf8')).toBe('top secret');
  });

  it('refuses a symlinked directory that points outside', async () => {
    await symlink(outsideDir, path.join(sandbox.dir, 'out'));
    await expect(readFileTool.run({ path: 'out/secret.txt' }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
    await expect(readFileTool.run({ path: 'out' }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
    await expect(
      writeFileTool.run({ path: 'out/new/planted.txt', content: 'x' }, sandbox.ctx()),
    ).rejects.toMatchObject(OUTSIDE);
    await expect(stat(path.join(outsideDir, 'new'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a path whose parent, deeper down, is a symlink to outside', async () => {
    await mkdir(path.join(sandbox.dir, 'a', 'b'), { recursive: true });
    await symlink(outsideDir, path.join(sandbox.dir, 'a', 'b', 'c'));
    await expect(readFileTool.run({ path: 'a/b/c/secret.txt' }, sandbox.ctx())).rejects.toMatchObject(
      OUTSIDE,
    );
    await expect(
      writeFileTool.run({ path: 'a/b/c/d/e.txt', content: 'x' }, sandbox.ctx()),
    ).rejects.toMatchObject(OUTSIDE);
    await expect(stat(path.join(outsideDir, 'd'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a symlink chain that ends outside (inside link → inside link → outside)', async () => {
    await symlink(outsideDir, path.join(sandbox.dir, 'hop2'));
    await symlink(path.join(sandbox.dir, 'hop2'), path.join(sandbox.dir, 'hop1'));
    await expect(readFileTool.run({ path: 'hop1/secret.txt' }, sandbox.ctx())).rejects.toMatchObject(OUTSIDE);
  });

  it('refuses a dangling symlink, so write_file cannot create its outside target', async () => {
    const target = path.join(outsideDir, 'created-by-attacker.txt');
    await symlink(target, path.join(sandbox.dir, 'dangling'));
    await expect(writeFileTool.run({ path: 'dangling', content: 'x' }, sandbox.ctx())).rejects.toMatchObject(
      OUTSIDE,
    );
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses NUL bytes and empty paths as invalid_params', async () => {
    await expect(readFileTool.run({ path: 'a\0b' }, sandbox.ctx())).rejects.toMatchObject({
      code: 'invalid_params',
    });
    await expect(
      writeFileTool.run({ path: 'x.txt\0../../etc', content: '' }, sandbox.ctx()),
    ).rejects.toMatchObject({
      code: 'invalid_params',
    });
    await expect(readFileTool.run({ path: '' }, sandbox.ctx())).rejects.toMatchObject({
      code: 'invalid_params',
    });
  });

  it('resolves a not-yet-existing path to its real location inside the sandbox', async () => {
    await mkdir(path.join(sandbox.dir, 'real'));
    await symlink(path.join(sandbox.dir, 'real'), path.join(sandbox.dir, 'alias'));
    const resolved = await resolveSandboxPath(sandbox.dir, 'alias/new/file.txt');
    expect(resolved).toBe(path.join(await realpath(sandbox.dir), 'real', 'new', 'file.txt'));
  });
});
