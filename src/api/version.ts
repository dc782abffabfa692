/** What /version answers: the package's name and version, and the Node.js running it. */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

export const VERSION = pkg.version;

export function versionDocument() {
  return { name: pkg.name, version: pkg.version, node: process.version };
}
