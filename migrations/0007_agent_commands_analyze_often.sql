-- An agent's pending commands are looked up by agent and status (the session create, the admin
-- and session-action inserts, the drain's claim). Planned from statistics taken while almost
-- nothing was pending, those lookups read every pending command through a status-first index and
-- filter by agent: a backlog of 10,000 pending commands at other agents then costs each of them
-- 1.3–1.4 ms instead of 0.04–0.08 ms. Under the default (re-analyse after 10 % of the rows
-- change) a backlog that size in a 200,000-row table never triggers a new ANALYZE; at 1 % it
-- does, within the autovacuum naptime (measured on a scratch cluster; README, Performance).
-- Postgres's own autovacuum does the work, so this is a setting, not a job.
ALTER TABLE agent_commands SET (autovacuum_analyze_scale_factor = 0.01);
