-- A command always has created_at: the per-agent order, the sweep's scan for undelivered
-- commands (created_at <= now() - grace) and every "older than" test compare it, and NULL
-- answers none of them. A row inserted with an explicit NULL (an import of the original's
-- table, a hand insert) was never found by the sweep, went out after newer commands when
-- claimed, and held nothing back. It now gets the time it is inserted, as the column default
-- gives a row that leaves it out; rows already stored get the time they last changed.
-- The trigger's WHEN is checked without calling the function: inserts that set created_at, or
-- leave it to the default, cost nothing more.
UPDATE agent_commands SET created_at = coalesce(updated_at, sent_at, now()) WHERE created_at IS NULL;
--> statement-breakpoint
CREATE FUNCTION agent_commands_created_at_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.created_at := clock_timestamp();
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER agent_commands_created_at_not_null BEFORE INSERT ON agent_commands
  FOR EACH ROW WHEN (NEW.created_at IS NULL) EXECUTE FUNCTION agent_commands_created_at_default();
