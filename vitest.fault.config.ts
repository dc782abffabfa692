/**
 * The fault suite (tests/fault): tests that stop and restart the PostgreSQL server, freeze or
 * kill its backends, and SIGKILL runtime processes. Nothing else may run while they do, so
 * they run after the main suite (`npm test` runs both), one file at a time, one test at a time.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // tests/cluster (issue 6): three runtime processes, SIGKILL, a NATS restart
    include: ['tests/fault/**/*.test.ts', 'tests/cluster/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
