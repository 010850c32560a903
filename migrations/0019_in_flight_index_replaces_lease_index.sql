-- The sweep's lease scan judges only each agent's oldest in-flight command (the one it runs now);
-- the commands queued behind it wait their turn. Through the lease index it read every in-flight
-- command whose lease had run out, queued ones included, and probed for an older one for each:
-- 98,000 commands queued at 100 busy agents cost 170 ms per sweep, every minute, for nothing.
-- This index holds the same rows, by agent in order, so the scan takes one entry per agent
-- (commandExpireLeases). The lease index had no other user. Built in the migration's
-- transaction, which blocks writes to agent_commands while it scans the table (0.3 s for
-- 2,000,000 commands on a scratch database).
CREATE INDEX "idx_agent_commands_in_flight" ON "agent_commands" USING btree ("agent_id","created_at","seq") WHERE "agent_commands"."status" in ('sent', 'ack');--> statement-breakpoint
DROP INDEX "idx_agent_commands_lease";
