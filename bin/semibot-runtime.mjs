#!/usr/bin/env node
// The semibot-runtime command: runs the compiled build in this package's dist/.
// In the repository, `npm ci` builds it (prepare); the dev loop runs the sources with
// `npm start` / `node --import tsx src/cli/main.ts` instead.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('semibot-runtime: dist/ is missing; run `npm run build` in the package first\n');
  process.exit(1);
}
await import(built.href);
