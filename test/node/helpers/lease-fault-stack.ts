/**
 * The set-up the lease fault tests share: a stack whose ack and run leases last `leaseSeconds`
 * (not the production 60 s / 900 s), the command audit installed, one approved agent, and the
 * reference agents a test starts, all stopped after the file.
 */
import { afterAll, beforeAll } from "vitest";
import type { ReferenceAgent } from "../../../src/local/agent/agent";
import { installCommandAudit } from "./command-audit";
import { startStack } from "./stack";
import type { Stack } from "./stack";

export type LeaseFaultStack = { stack: Stack; apiKey: string; agents: ReferenceAgent[] };

export function useLeaseFaultStack(agentId: string, leaseSeconds: number): LeaseFaultStack {
  const fixture: LeaseFaultStack = { stack: undefined as unknown as Stack, apiKey: "", agents: [] };
  beforeAll(async () => {
    const seconds = String(leaseSeconds);
    fixture.stack = await startStack({ vars: { ACK_LEASE_SECONDS: seconds, RUN_LEASE_SECONDS: seconds } });
    await installCommandAudit(fixture.stack.sql);
    fixture.apiKey = await fixture.stack.makeAgent(agentId);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(fixture.agents.map((a) => a.stop()));
    await fixture.stack?.stop();
  });
  return fixture;
}
