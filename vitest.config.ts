import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // Integration tests share one local broker; running files one after another keeps the
    // 2-core machines from starving the broker and makes failures readable.
    fileParallelism: false,
  },
});
