-- A session insert counts towards its agent's load through a row trigger instead of the
-- statement trigger of 0003: building and reading the transition table cost ~0.14 ms on every
-- create (create_session_with_command under pgbench: 0.53 -> 0.39 ms). A row trigger takes the
-- agent's row lock as each row is inserted rather than in agent_id order at the end; the
-- service inserts one session per statement (one agent per transaction, as before), so only a
-- multi-row INSERT by hand could meet another multi-row statement in the opposite order, and
-- Postgres would then abort one of them whole. Updates and deletes keep the ordered statement
-- trigger: the sweep moves many sessions in one statement. (Its function's INSERT branch is no
-- longer reached.)
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
