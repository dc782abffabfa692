import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../src/errors.ts';
import { README, withTables } from '../../scripts/readme-tables.ts';

describe('README', () => {
  const readme = readFileSync(README, 'utf8');

  it('lists exactly the error catalogue and the configuration keys (regenerate: node --import tsx scripts/readme-tables.ts)', () => {
    expect(readme).toBe(withTables(readme));
  });

  it('names every error code once in its table', () => {
    for (const code of Object.keys(ERROR_CATALOGUE)) expect(readme).toContain(`| \`${code}\` |`);
  });

  it('gives the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toMatch(/^npm test\b/m);
  });
});
