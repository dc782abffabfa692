import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // tests/fault stop PostgreSQL and kill processes: they run alone, after this suite
    // (vitest.fault.config.ts; `npm test` runs both).
    exclude: ['tests/fault/**', 'tests/cluster/**', '**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real worker threads and real PostgreSQL: keep parallelism modest on a 2-core machine.
    maxWorkers: 2,
    pool: 'forks',
  },
});
