// Vitest config: real servers and processes start in tests, so timeouts are generous and files run in forks.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    globalSetup: ['test/helpers/global-temp.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
