import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Test-only secrets: the Worker reads them exactly as it reads the real ones. */
const TEST_JWT_SECRET = "test-jwt-secret-not-for-production";
const TEST_BOOTSTRAP_KEY = "b".repeat(64);

export default defineConfig({
  test: {
    projects: [
      {
        // The Worker, its Durable Objects and the sweep, in workerd, against real Postgres.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DATABASE_URL: inject("databaseUrl"),
                DB_WS_PROXY: inject("wsProxy"),
                DB_PIPELINE_CONNECT: inject("pipelineConnect"),
                JWT_SECRET: TEST_JWT_SECRET,
                AGENT_BOOTSTRAP_KEY: TEST_BOOTSTRAP_KEY,
                SWEEP_PENDING_GRACE_SECONDS: "5",
              },
            },
          })),
        ],
        test: {
          name: "workers",
          globalSetup: ["./test/global-setup.ts"],
          setupFiles: ["./test/setup.ts"],
          include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts", "test/conformance/**/*.test.ts"],
          // Test files share one database; each starts from empty tables (test/setup.ts).
          fileParallelism: false,
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        // Node-side code: the reference agent and the local tooling.
        test: {
          name: "node",
          environment: "node",
          include: ["test/node/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
    ],
  },
});
