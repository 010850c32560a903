-- The sweep judges the lease of the command each agent runs now, the first of its in-flight
-- commands. That is the first one sent, not the oldest created: an older command sent after a
-- newer one (put back to pending when its lease ran out while the newer one was pushed, or
-- committed after it) waits behind the newer one at the agent. Taken in creation order, it was
-- judged while it waited: sent again every minute or so and failed after max_attempts
-- deliveries while the agent ran the newer one, a start for minutes. The index now holds the
-- in-flight commands by agent in the order they went out (a claim's batch shares a sent_at and
-- goes out in creation order; a row with no sent_at, only ever written by hand, first), as
-- commandExpireLeases walks them. Index-only; it blocks writes to agent_commands while it is
-- built (see migration 0019 for the time it takes).
DROP INDEX "idx_agent_commands_in_flight";--> statement-breakpoint
CREATE INDEX "idx_agent_commands_in_flight" ON "agent_commands" USING btree ("agent_id","sent_at" NULLS FIRST,"created_at","seq") WHERE "agent_commands"."status" in ('sent', 'ack');