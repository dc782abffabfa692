/**
 * The console's files, on the API port (issue 18): GET /console/ serves a page that talks to
 * the same HTTP API with the token its user signs in with. Only these files are served, from
 * the package (src/api/console/, copied into dist/ by the build); Preact + htm come from the
 * installed `htm` package's standalone build. No CDN, no build step at serve time.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { RuntimeError } from '../../errors.ts';

const CONSOLE_DIR = new URL('../console/', import.meta.url);
const FILES: Readonly<Record<string, { url: URL | (() => string); type: string }>> = {
  'index.html': { url: new URL('index.html', CONSOLE_DIR), type: 'text/html; charset=utf-8' },
  'console.js': { url: new URL('console.js', CONSOLE_DIR), type: 'text/javascript; charset=utf-8' },
  'console.css': { url: new URL('console.css', CONSOLE_DIR), type: 'text/css; charset=utf-8' },
  'vendor/preact-htm.js': {
    // Its exports map names no file for this (Node's require resolution); it sits beside dist/.
    url: () =>
      path.join(
        path.dirname(createRequire(import.meta.url).resolve('htm')),
        '..',
        'preact',
        'standalone.mjs',
      ),
    type: 'text/javascript; charset=utf-8',
  },
};

// The page runs only its own files and talks only to this origin.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export function consoleRoutes(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  const send = async (reply: FastifyReply, name: string) => {
    // Own keys only: a name such as "valueOf" or "__proto__" is no file (found by the fuzz test).
    const file = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
    if (!file) throw new RuntimeError('route_not_found', `no console file ${name}`);
    let body = cache.get(name);
    if (!body) {
      body = await readFile(typeof file.url === 'function' ? file.url() : file.url);
      cache.set(name, body);
    }
    return reply.headers({ ...SECURITY_HEADERS, 'content-type': file.type }).send(body);
  };
  app.get('/console', (_request, reply) => reply.redirect('/console/'));
  app.get('/console/', (_request, reply) => send(reply, 'index.html'));
  app.get('/console/*', (request, reply) => send(reply, (request.params as { '*': string })['*']));
}
