// Vitest config: real servers and processes start in tests, so timeouts are generous and files run in forks.
// Vitest's default on two cores is one file at a time (15.4 min), yet files spend much of their time waiting on
// child processes and sockets: two at a time take ~11 min. The files whose timing a busy machine upsets (the
// replicas sharing Redis, haproxy and kills in test/cluster; pins-modes) run afterwards, one at a time.
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/** The files that run alone, after the others (under two at a time, sigkill.test.ts failed once). */
const ALONE = [
  'test/cluster/**/*.test.ts',
  'test/gateway/cluster-*.test.ts',
  'test/gateway/pins-modes.test.ts',
];

export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['test/helpers/global-temp.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: ALONE,
          // Vitest's own default (one fewer than the cores), but never fewer than two.
          maxWorkers: Math.max(2, availableParallelism() - 1),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: ALONE,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
