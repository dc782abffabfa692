/**
 * The one path check for the file tools. A tool path is relative to the session's sandbox
 * directory; it is resolved through every symlink that exists (fs.realpath on the deepest
 * existing ancestor), and refused unless the real path stays inside the real sandbox.
 *
 * The check and the later open are two steps, so a process that swaps a directory for a
 * symlink in between could still win the race; the file tools narrow that by opening the
 * resolved path with O_NOFOLLOW. Only the session's own execute_code child could race,
 * and it is itself confined to the sandbox by the permission model.
 */
import { constants } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError, errorMessage } from '../../errors.ts';

/** open() flag that makes a symlink in the final component fail with ELOOP (0 where unsupported). */
export const O_NOFOLLOW: number = constants.O_NOFOLLOW ?? 0;

function errnoCode(err: unknown): string | undefined {
  return err && typeof err === 'object' && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  // '..foo' is a legal name inside root; only a whole '..' segment leaves it.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function outside(relPath: string, why: string): RuntimeError {
  return new RuntimeError('path_outside_sandbox', `"${relPath}" ${why}`);
}

/**
 * Resolves `relPath` against `sandboxDir` and returns the real absolute path to operate on.
 * Throws invalid_params for empty paths or NUL bytes, path_outside_sandbox for absolute
 * paths, `..` escapes and symlinks (anywhere in the path) that lead out of the sandbox.
 */
export async function resolveSandboxPath(sandboxDir: string, relPath: string): Promise<string> {
  if (relPath === '') throw new RuntimeError('invalid_params', 'the path is empty');
  // NUL would truncate the path in the syscall, so what we checked is not what we open.
  if (relPath.includes('\0')) throw new RuntimeError('invalid_params', 'the path contains a NUL byte');
  if (path.isAbsolute(relPath)) throw outside(relPath, 'is absolute; paths are relative to the sandbox');

  const root = await realpath(sandboxDir);
  const lexical = path.resolve(root, relPath);
  if (!isInside(root, lexical)) throw outside(relPath, 'escapes the sandbox with ".."');

  // Walk up to the deepest entry that exists; the missing tail cannot contain symlinks.
  const missing: string[] = [];
  let probe = lexical;
  for (;;) {
    try {
      await lstat(probe);
      break;
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      if (probe === root) break; // root vanished: realpath below reports it
      missing.unshift(path.basename(probe));
      probe = path.dirname(probe);
    }
  }

  let real: string;
  try {
    real = await realpath(probe);
  } catch (err) {
    // lstat saw the entry but realpath cannot follow it: a dangling or looping symlink,
    // whose target we cannot prove to be inside.
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ELOOP') {
      throw outside(relPath, 'goes through a symlink that cannot be resolved');
    }
    throw err;
  }
  if (!isInside(root, real)) throw outside(relPath, 'resolves through a symlink to outside the sandbox');
  return missing.length === 0 ? real : path.join(real, ...missing);
}

/**
 * Maps an fs error from a file tool to a catalogue error; `relPath` is the path the caller gave.
 */
export function fsError(tool: string, relPath: string, err: unknown): RuntimeError {
  if (err instanceof RuntimeError) return err;
  switch (errnoCode(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new RuntimeError('file_not_found', `${tool}: "${relPath}" does not exist in the sandbox`);
    case 'ELOOP':
      // O_NOFOLLOW met a symlink that appeared after the check.
      return new RuntimeError('path_outside_sandbox', `${tool}: "${relPath}" became a symlink`);
    case 'EISDIR':
      return new RuntimeError('tool_error', `${tool}: "${relPath}" is a directory`);
    default: {
      const message = errorMessage(err);
      return new RuntimeError('tool_error', `${tool}: ${message}`);
    }
  }
}
