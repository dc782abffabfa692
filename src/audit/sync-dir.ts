import { type FileHandle, open } from 'node:fs/promises';

/**
 * Makes a directory's entries durable (after a create or rename). Best effort: some platforms
 * cannot open a directory for syncing.
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // not supported here (e.g. Windows)
  } finally {
    await handle?.close().catch(() => {});
  }
}
