import { defineConfig } from 'vitest/config';

// Property and simulation tests on a loaded 2-core machine: no test may depend on finishing
// within vitest's 5 s default. Slow tests also set their own explicit budgets.
export default defineConfig({
  test: {
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Example projects have their own tests, run against the packed package (see .ci/run).
    // Stryker's sandboxes (npm run mutation) hold copies of the tests.
    exclude: ['**/node_modules/**', 'examples/**', 'dist/**', '.stryker-tmp/**'],
  },
});
