/**
 * How long a pushed command waits for the agent's ack to record its delivery before the Durable
 * Object records it `sent` on its own (see delivery.ts): well inside the 2 s of checklist 29, and
 * above an agent's round trip. In a module of its own so the bench can read it without the
 * Worker's types.
 */
export const RECORD_DELAY_MS = 500;
