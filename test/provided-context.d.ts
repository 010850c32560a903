/** What test/global-setup.ts provides to every test file (vitest `inject()`). */
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    wsProxy: string;
    pipelineConnect: "true" | "false";
    /** False on embedded PGlite, which runs one statement at a time for every connection. */
    concurrentSessions: boolean;
  }
}
