/** Runs in workerd before each test file: every file starts from empty tables. */
import { beforeAll } from "vitest";
import { resetDatabase } from "./helpers/db";

beforeAll(async () => {
  await resetDatabase();
});
