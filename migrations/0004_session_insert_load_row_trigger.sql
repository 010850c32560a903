-- A session insert counts towards its agent's load through a row trigger instead of the
-- statement trigger of 0003: building and reading the transition table cost ~0.14 ms on every
-- create (create_session_with_command under pgbench: 0.53 -> 0.39 ms). A row trigger takes the
-- agent's row lock as each row is inserted rather than in agent_id order at the end; the
-- service inserts one session per statement (one agent per transaction, as before), so only a
-- multi-row INSERT by hand could meet another multi-row statement in the opposite order, and
-- Postgres would then abort one of them whole. Updates and deletes keep the ordered statement
-- trigger: the sweep moves many sessions in one statement.
DROP TRIGGER "sessions_agent_load_insert" ON "sessions";
--> statement-breakpoint
CREATE FUNCTION sessions_count_inserted_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE agents SET active_sessions = active_sessions + 1 WHERE agent_id = NEW.agent_id;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "sessions_agent_load_insert" AFTER INSERT ON "sessions"
  FOR EACH ROW WHEN (NEW.agent_id IS NOT NULL AND NEW.state IN ('running', 'hibernated', 'pending'))
  EXECUTE FUNCTION sessions_count_inserted_session();
--> statement-breakpoint
-- The statement trigger's function without its INSERT branch, now unused.
CREATE OR REPLACE FUNCTION sessions_track_agent_load() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids varchar[];
  deltas integer[];
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE agents SET active_sessions = 0 WHERE active_sessions <> 0;
    RETURN NULL;
  END IF;
  -- +1 per active row after the statement, -1 per active row before it, summed per agent.
  IF TG_OP = 'DELETE' THEN
    SELECT array_agg(d.agent_id ORDER BY d.agent_id), array_agg(d.n ORDER BY d.agent_id) INTO ids, deltas
    FROM (SELECT agent_id, -count(*)::integer AS n FROM old_rows
          WHERE state IN ('running', 'hibernated', 'pending') AND agent_id IS NOT NULL GROUP BY agent_id) d;
  ELSE
    SELECT array_agg(d.agent_id ORDER BY d.agent_id), array_agg(d.n ORDER BY d.agent_id) INTO ids, deltas
    FROM (SELECT r.agent_id, sum(r.n)::integer AS n
          FROM (SELECT agent_id, 1 AS n FROM new_rows WHERE state IN ('running', 'hibernated', 'pending')
                UNION ALL
                SELECT agent_id, -1 FROM old_rows WHERE state IN ('running', 'hibernated', 'pending')) r
          WHERE r.agent_id IS NOT NULL GROUP BY r.agent_id HAVING sum(r.n) <> 0) d;
  END IF;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  IF cardinality(ids) > 1 THEN
    PERFORM 1 FROM agents WHERE agent_id = ANY (ids) ORDER BY agent_id FOR NO KEY UPDATE;
  END IF;
  UPDATE agents a SET active_sessions = a.active_sessions + d.n
  FROM unnest(ids, deltas) AS d(agent_id, n) WHERE a.agent_id = d.agent_id;
  RETURN NULL;
END
$$;
