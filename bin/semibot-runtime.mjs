#!/usr/bin/env node
// The semibot-runtime command. Runs the TypeScript sources through tsx's loader, or the
// compiled build when dist/ exists next to this file.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
