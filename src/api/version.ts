/** What /version answers: the package's name and version, and the Node.js running it. */
import { readFileSync } from 'node:fs';
import { schemaLevelDocument } from '../db/schema-check.ts';
import { packagePath } from '../package-paths.ts';

const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
  name: string;
  version: string;
};

export const VERSION = pkg.version;

export function versionDocument() {
  // schema: {known, applied} migration levels, once the daemon's start-up check read them.
  return { name: pkg.name, version: pkg.version, node: process.version, ...schemaLevelDocument() };
}
