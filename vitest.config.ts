import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The JSON report lets .ci/run print one plain 'N passed, N failed' line for CI.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
