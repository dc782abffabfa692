#!/usr/bin/env node
// What a user of the npm package does, checked with whichever Node runs this script:
//
//   npm pack ─► npm install --omit=dev <tarball> into a fresh project
//     ─► import (ESM) and require (CommonJS) 'semibot-runtime'
//     ─► typecheck a strict TypeScript consumer against the installed declarations
//     ─► the installed bin: --version, run <example>, migrate up
//     ─► one session on each audit store (memory, file, PostgreSQL) from the installed copy
//
// Plain JavaScript on purpose: it must run on every supported Node line without a loader.
// `.ci/run` runs it on Node 24 and 22; tests/e2e/package.test.ts runs it on the machine's Node.
//
//   node tests/package/smoke.mjs [--tarball FILE] [--database-url URL]
//
// The database URL names a server where the script may create and drop its own database
// (default postgres://postgres@127.0.0.1:5432/postgres). Prints one line per check and a closing
// "N passed, N failed" line; exits non-zero when any check failed.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const REPO = path.resolve(import.meta.dirname, '../..');
const { values: args } = parseArgs({
  options: {
    tarball: { type: 'string' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});

// npm and every child run on the Node that runs this script.
const ENV = {
  ...process.env,
  PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
};
delete ENV.NODE_OPTIONS;
const work = mkdtempSync(path.join(tmpdir(), 'semibot-package-'));
const app = path.join(work, 'app');
let passed = 0;
let failed = 0;

function sh(command, argv, options = {}) {
  const out = spawnSync(command, argv, {
    cwd: app,
    env: ENV,
    encoding: 'utf8',
    timeout: 240_000,
    ...options,
  });
  if (out.error) throw out.error;
  if (out.status !== 0) {
    throw new Error(`${command} ${argv.join(' ')} exited ${out.status}\n${out.stdout}\n${out.stderr}`.trim());
  }
  return out.stdout;
}

function check(name, work) {
  try {
    const detail = work();
    passed += 1;
    console.log(`ok - ${name}${detail ? ` (${detail})` : ''}`);
  } catch (err) {
    failed += 1;
    console.log(
      `not ok - ${name}\n  ${String(err?.stack ?? err)
        .split('\n')
        .join('\n  ')}`,
    );
  }
}

console.log(`# semibot-runtime package smoke on Node ${process.version}`);
const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
let tarball = args.tarball ? path.resolve(args.tarball) : undefined;
try {
  if (!tarball) {
    // npm pack runs `prepare`, which builds dist/.
    const name = sh('npm', ['pack', '--silent', '--pack-destination', work], { cwd: REPO })
      .trim()
      .split('\n')
      .pop();
    tarball = path.join(work, name);
  }
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'smoke-app', private: true }));

  check('installs with --omit=dev, with no loader among its dependencies', () => {
    sh('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tarball]);
    const installed = createRequire(path.join(app, 'package.json'));
    for (const loader of ['tsx', 'esbuild', 'typescript']) {
      let found = false;
      try {
        installed.resolve(`${loader}/package.json`);
        found = true;
      } catch {}
      if (found) throw new Error(`${loader} was installed with the package`);
    }
    return path.basename(tarball);
  });

  const esm = `
    import { createRuntime } from 'semibot-runtime';
    const [store, extra] = process.argv.slice(2);
    const audit = store === 'database'
      ? { storage_type: 'database' }
      : store === 'file' ? { storage_type: 'file', log_dir: 'var/audit' } : { storage_type: 'memory' };
    const runtime = createRuntime({
      audit,
      ...(store === 'database' ? { database: { url: extra } } : {}),
      runtime: { workers: 1, sandbox_dir: 'var/sandbox' },
    });
    await runtime.start();
    const session = await runtime.createSession({
      org_id: 'smoke', user_id: 'u', agent_id: 'a', tools: ['echo'], planner: { type: 'external' },
    });
    const result = await session.execute({ name: 'echo', params: { message: 'from ' + store } });
    await session.end();
    const verify = await runtime.audit.verify(session.id);
    const count = await runtime.audit.count({ session_id: session.id });
    await runtime.stop();
    console.log(JSON.stringify({ success: result.success, message: result.result?.message, ok: verify.ok, count }));
  `;
  writeFileSync(path.join(app, 'session.mjs'), esm);
  const session = (store, extra) => {
    const out = JSON.parse(
      sh(process.execPath, ['session.mjs', store, ...(extra ? [extra] : [])])
        .trim()
        .split('\n')
        .pop(),
    );
    if (!out.success || out.message !== `from ${store}` || !out.ok || out.count < 4) {
      throw new Error(`unexpected session outcome ${JSON.stringify(out)}`);
    }
    return `${out.count} events, chain verified`;
  };
  check('import (ESM) runs a session on the memory store', () => session('memory'));
  check('import (ESM) runs a session on the file store', () => session('file'));

  check('require (CommonJS) loads the package', () => {
    writeFileSync(
      path.join(app, 'require.cjs'),
      `const m = require('semibot-runtime'); if (typeof m.createRuntime !== 'function') process.exit(3);`,
    );
    sh(process.execPath, ['require.cjs']);
    return 'require(esm)';
  });

  check('a strict TypeScript consumer typechecks against the installed declarations', () => {
    // A TypeScript user of a Node library has @types/node; the compiler is the repository's.
    sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefer-offline', '@types/node@20']);
    writeFileSync(
      path.join(app, 'consumer.ts'),
      `import { createRuntime, RuntimeError, type ActionResult, type SessionRequest } from 'semibot-runtime';
const request: SessionRequest = {
  org_id: 'o', user_id: 'u', agent_id: 'a', tools: ['echo'], planner: { type: 'external' },
};
export async function once(): Promise<ActionResult> {
  const runtime = createRuntime({ audit: { storage_type: 'memory' } });
  await runtime.start();
  const session = await runtime.createSession(request);
  const result = await session.execute({ name: 'echo', params: { message: 'typed' } });
  if (!result.success && result.error?.code === 'approval_denied') throw new RuntimeError('approval_denied', 'no');
  await runtime.stop();
  return result;
}
`,
    );
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = createRequire(path.join(REPO, 'package.json')).resolve('typescript/bin/tsc');
    sh(process.execPath, [tsc, '-p', '.']);
    return 'tsc --noEmit, strict, no skipLibCheck';
  });

  const bin = path.join(app, 'node_modules/.bin/semibot-runtime');
  check('the installed bin prints its version', () => {
    const version = sh(bin, ['--version']).trim();
    if (version !== manifest.version) throw new Error(`--version printed ${JSON.stringify(version)}`);
    return version;
  });
  check('the installed bin runs an example session file', () => {
    const out = sh(bin, ['run', 'node_modules/semibot-runtime/examples/hello.yaml'], {
      env: { ...ENV, ENVIRONMENT: 'development' },
    });
    if (!/word_count/.test(out) || !/echo/.test(out)) throw new Error(`unexpected output:\n${out}`);
    return 'hello.yaml';
  });

  check('the installed bin migrates and a session runs on the PostgreSQL store', () => {
    const admin = new URL(args['database-url']);
    const name = `semibot_package_${randomBytes(4).toString('hex')}`;
    const psql = (sql) =>
      sh('psql', [admin.href, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], {
        env: { ...ENV, PGCONNECT_TIMEOUT: '5' },
      });
    psql(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(admin.href);
      url.pathname = `/${name}`;
      sh(bin, ['migrate', 'up'], { env: { ...ENV, DATABASE_URL: url.href } });
      return session('database', url.href);
    } finally {
      psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
