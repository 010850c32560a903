-- An agent's commands are claimed in order, re-deliveries included: a pending command is not
-- claimed while an older one of its agent waits out a re-delivery backoff (claimable, in
-- src/db/queries/commands.ts). Without it a stop created during a start's backoff went out first,
-- and the start then made a pod for a terminated session. Rows in a backoff are few: this index
-- holds only those, so the check costs each claimed candidate one probe of a near-empty index.
CREATE INDEX "idx_agent_commands_backoff" ON "agent_commands" USING btree ("agent_id","created_at","seq") WHERE "agent_commands"."status" = 'pending' and "agent_commands"."next_attempt_at" is not null;