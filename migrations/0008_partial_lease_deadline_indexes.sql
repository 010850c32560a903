-- The sweep finds expired leases among `sent`/`ack` commands and passed deadlines among `pending`
-- ones. Their indexes led with `status` and held every command, so each of a command's status
-- changes wrote an entry in both, and finished commands (nearly all rows under retention) stayed
-- in both for their 30 days. As partial indexes they hold only the rows the sweep looks for: a
-- command's life (insert, ack, complete) writes 2,152 instead of 2,481 bytes of WAL, and after
-- 20,000 such lives each index is 144 instead of 400 KiB (scratch database, README Performance).
-- The queries state the statuses as literals (schema.ts, commandStatusIs) so that any plan,
-- generic or not, can use them.
-- Building them scans agent_commands once and blocks its writes meanwhile (migrations run in one
-- transaction; 0.2 s for 1,000,000 commands in memory on the 2-core dev box): on a large table,
-- apply it at a quiet moment.
DROP INDEX "idx_agent_commands_status_lease";--> statement-breakpoint
DROP INDEX "idx_agent_commands_status_expires";--> statement-breakpoint
CREATE INDEX "idx_agent_commands_lease" ON "agent_commands" USING btree ("lease_expires_at") WHERE "agent_commands"."status" in ('sent', 'ack');--> statement-breakpoint
CREATE INDEX "idx_agent_commands_deadline" ON "agent_commands" USING btree ("expires_at") WHERE "agent_commands"."status" = 'pending';