import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Race and worker tests run real threads for seconds; timings are never asserted.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Two cores: run test files one after another so race tests get real parallelism.
    fileParallelism: false,
  },
});
