-- The retention delete (commandDeleteFinished, every sweep) looks for finished commands last
-- changed before the cutoff. No index served it, so each sweep read the whole table to find
-- nothing old enough: with 1,000,000 finished commands, 260 ms and 28,160 buffers (220 MB) per
-- sweep, against 0.04 ms and 3 buffers with this index (EXPLAIN ANALYZE, scratch database). It
-- costs each finished command one entry (README Performance). Like 0008, it blocks writes to
-- agent_commands while it builds: apply it at a quiet moment on a large table.
CREATE INDEX "idx_agent_commands_finished" ON "agent_commands" USING btree ("updated_at") WHERE "agent_commands"."status" in ('completed', 'failed', 'expired', 'cancelled');