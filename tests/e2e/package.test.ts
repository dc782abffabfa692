/**
 * Issue 16: the package works the way a user gets it — packed, installed with --omit=dev into a
 * fresh project, imported from ESM and CommonJS, typechecked from a strict TypeScript consumer,
 * its bin run, and one session on each audit store from the installed copy. The checks live in
 * tests/package/smoke.mjs, which `.ci/run` also runs on Node 24 and 22; here it runs on the
 * machine's Node.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO } from '../helpers/cli.ts';

it('issue-16: the packed package installs, imports, typechecks and runs on every store', () => {
  const out = spawnSync(process.execPath, [path.join(REPO, 'tests/package/smoke.mjs')], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 280_000,
  });
  const report = `${out.stdout}\n${out.stderr}`;
  expect(report).toMatch(/^8 passed, 0 failed$/m);
  expect(out.status, report).toBe(0);
}, 300_000);
