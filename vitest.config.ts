import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // Integration tests share one local broker; running files one after another keeps the
    // 2-core machines from starving the broker and makes failures readable.
    fileParallelism: false,
    // Deletes the topics the tests made and stops the brokers the suite started, pass or fail.
    globalSetup: ['tests/kafka/globalSetup.ts'],
    // vitest exits the process this long after the run even if the global teardown is still at
    // work: a broker's clean stop alone may take tens of seconds (scripts/kafka-local.sh: 30 s).
    teardownTimeout: 90_000,
  },
});
