import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start servers on fixed loopback ports and child processes; on a 2-core
    // machine running files one at a time keeps them from starving each other.
    fileParallelism: false,
    reporters: ['default'],
  },
});
