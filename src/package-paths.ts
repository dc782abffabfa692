/**
 * Where the package's own files are: the folder holding semibot-runtime's package.json.
 *
 * The same modules run from the repository's sources (src/…, through tsx) and from the
 * compiled build (dist/src/…, in an installed package), one folder deeper. Walking up to the
 * package.json finds the root from either, so config/*.yaml, migrations/ and sql/ resolve from
 * the installed package and never from the caller's working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'semibot-runtime';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (name === PACKAGE_NAME) return dir;
    }
    if (path.dirname(dir) === dir) {
      throw new Error(`cannot find ${PACKAGE_NAME}'s package.json above ${start}`);
    }
  }
}

/** The package's root folder (the repository, or node_modules/semibot-runtime once installed). */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. packagePath('migrations'). */
export function packagePath(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}
