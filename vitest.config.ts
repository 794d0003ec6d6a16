import { defineConfig } from "vitest/config";

// One root run with projects: pure unit tests beside the code, integration tests against the
// real PostgreSQL and Redis that the global setup starts once, browser tests against Chromium.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{apps,packages,tooling}/*/src/**/*.test.{ts,tsx}"],
          exclude: ["**/*.integration.test.ts", "**/*.e2e.test.ts", "**/node_modules/**"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: [
            "{apps,packages,tooling}/*/src/**/*.integration.test.ts",
            "{apps,packages,tooling}/*/test/**/*.integration.test.ts",
          ],
          globalSetup: ["tooling/testing/src/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "cluster",
          // The suites whose Redis use changes on a cluster (admission and settlement scripts,
          // counters, invalidation pub/sub, BullMQ queues) run again on a real 3-master Redis
          // Cluster, with the tests that need one (many instances). The rest of Redis' callers
          // use single-key commands, and key-name unit tests show every multi-key call in one slot.
          include: [
            "packages/budget/src/counters.integration.test.ts",
            "apps/proxy/test/{budgets,rate-limits,propagation}.integration.test.ts",
            "apps/worker/test/worker.integration.test.ts",
            "{apps,packages,tooling}/*/test/**/*.cluster.test.ts",
          ],
          globalSetup: ["tooling/testing/src/global-setup-cluster.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["apps/dashboard/test/**/*.e2e.test.ts"],
          globalSetup: ["tooling/testing/src/global-setup.ts"],
          testTimeout: 90_000,
          hookTimeout: 120_000,
          // A page reflects a change after a request or a refetch: a loaded CI machine can take
          // seconds where a quiet one takes milliseconds, so polls wait 10 s, not 1 s.
          expect: { poll: { timeout: 10_000 } },
        },
      },
    ],
  },
});
