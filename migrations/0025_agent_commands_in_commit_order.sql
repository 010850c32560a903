-- An agent's commands commit in the order of their created_at. Before, only a session create
-- (which takes the agent's row for its load counter) and the commands of one session (which take
-- the session's row) were serialised: a stop of one session and an administrator's command for
-- another, written at the same moment, could commit in the other order than their created_at,
-- and the one committed first was pushed first. Now every write that places a command in its
-- agent's queue (an insert, by any path, by hand too; an administrator's retry, which moves it to
-- the back) takes the agent's row first and waits for the transaction holding it, and a place
-- taken during the statement is taken again once the row is held, after everything committed
-- before. The row, not an advisory lock: a create holds it already, and a statement writing the
-- commands of thousands of agents holds row locks, not entries of the shared lock table. Two
-- such statements, by hand, taking the same agents in the opposite order: Postgres aborts one.
CREATE FUNCTION agent_commands_take_place() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM agents WHERE agent_id = NEW.agent_id FOR NO KEY UPDATE;
  -- A time set during this statement (the column's default, clock_timestamp(), or a retry's):
  -- the time now. A time given from before it (a row written by hand with a time of its own) stays.
  IF NEW.created_at >= statement_timestamp() THEN
    NEW.created_at := greatest(NEW.created_at, clock_timestamp());
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "agent_commands_take_place_insert" BEFORE INSERT ON "agent_commands"
  FOR EACH ROW EXECUTE FUNCTION agent_commands_take_place();
--> statement-breakpoint
CREATE TRIGGER "agent_commands_take_place_requeue" BEFORE UPDATE OF "created_at" ON "agent_commands"
  FOR EACH ROW WHEN (NEW.created_at IS DISTINCT FROM OLD.created_at) EXECUTE FUNCTION agent_commands_take_place();
--> statement-breakpoint
-- The ids of an agent's commands still pending, but one: read with a snapshot of its own. A
-- query's own snapshot is taken when it starts, before its insert waited for the agent's row, and
-- misses the command committed meanwhile; a volatile function's query takes a new one.
CREATE FUNCTION agent_pending_command_ids(p_agent_id varchar, p_except varchar) RETURNS varchar[]
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN ARRAY(SELECT o.command_id FROM agent_commands o
    WHERE o.agent_id = p_agent_id AND o.status = 'pending' AND o.command_id <> p_except LIMIT 100);
END
$$;
