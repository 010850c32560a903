-- finish_agent_command (migration 0018) with the command an answer lets the agent start next
-- taken in the order the agent got its commands, as the sweep's lease scan takes them since
-- migration 0022; the rest is restated unchanged. It took the first in creation order among those
-- not lost: an older command sent behind a newer one (put back to pending when its lease ran out
-- while the newer one was pushed, or committed after it) is behind the newer one at the agent
-- but was picked ahead of the one sent right after the answered command, whose lease then ran
-- on from its sending and had the sweep send it again while the agent started it. The read
-- goes through idx_agent_commands_in_flight_sent in order, so 0019's index, in creation order,
-- has no user left and is dropped (WAL per command life 3,168 -> 2,966 bytes on a scratch
-- database).
DROP INDEX "idx_agent_commands_in_flight";--> statement-breakpoint
CREATE OR REPLACE FUNCTION finish_agent_command(
  p_agent_id varchar,
  p_command_id varchar,
  p_status text,
  p_result jsonb,
  p_error text,
  p_moves jsonb,
  p_reported_state text,
  p_ack_lease_seconds float8,
  p_run_lease_seconds float8
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  finished integer;
  ran_session varchar;
  stop_queued varchar;
BEGIN
  WITH done AS (
    UPDATE agent_commands SET
      status = p_status,
      completed_at = CASE WHEN p_status = 'completed' THEN now() ELSE completed_at END,
      result = CASE WHEN p_status = 'completed' THEN p_result ELSE result END,
      error_message = CASE WHEN p_status = 'completed' THEN error_message ELSE p_error END,
      updated_at = now(), lease_expires_at = NULL, next_attempt_at = NULL
    WHERE command_id = p_command_id AND agent_id = p_agent_id AND status IN ('pending', 'sent', 'ack')
    RETURNING id, session_id, action, sent_at, created_at, seq
  ),
  move AS (
    SELECT done.session_id, m.move->'from' AS from_states, coalesce(p_reported_state, m.move->>'to') AS to_state
    FROM done CROSS JOIN LATERAL (SELECT p_moves -> done.action AS move) m
    WHERE m.move IS NOT NULL AND done.session_id IS NOT NULL
  ),
  moved AS (
    UPDATE sessions s SET state = move.to_state, updated_at = now(),
      terminated_at = CASE WHEN move.to_state = 'terminated' THEN now() ELSE s.terminated_at END,
      pod_name = CASE
        WHEN move.to_state IN ('hibernated', 'terminated', 'failed') THEN ''
        WHEN jsonb_typeof(p_result->'podName') = 'string' THEN left(p_result->>'podName', 255)
        ELSE s.pod_name END,
      url = CASE
        WHEN move.to_state IN ('hibernated', 'terminated', 'failed') THEN ''
        WHEN move.to_state = 'running' AND jsonb_typeof(p_result->'vncPort') = 'number' AND (p_result->>'vncPort')::numeric > 0
          THEN '/api/v1/sessions/' || s.id || '/vnc'
        ELSE s.url END
    FROM move
    WHERE s.id = move.session_id AND s.agent_id = p_agent_id
      AND s.state IN (SELECT jsonb_array_elements_text(move.from_states))
    RETURNING s.id, s.state
  ),
  superseded AS (
    -- A stop that ended its session has run. The agent runs commands one at a time and answers
    -- them in order, so a start, hibernate or wake of that session, created before the stop and
    -- last sent before it (or never), still open now is one it lost or whose answer was lost:
    -- sent again, it would bring back what the stop removed. One sent again after the stop went
    -- out is at the agent, behind the stop, and will run: cancelled, its answer would be lost.
    UPDATE agent_commands c SET status = 'cancelled', updated_at = now(), lease_expires_at = NULL,
      next_attempt_at = NULL, error_message = 'superseded: the session was stopped by ' || p_command_id
    FROM done
    WHERE done.action = 'stop_session' AND done.session_id IS NOT NULL
      AND (p_status = 'completed' OR EXISTS (SELECT 1 FROM moved WHERE moved.state = 'terminated'))
      AND c.agent_id = p_agent_id AND c.session_id = done.session_id
      AND c.action <> 'stop_session' AND c.status IN ('pending', 'sent', 'ack')
      AND (c.created_at, c.seq) < (done.created_at, done.seq)
      AND (c.sent_at IS NULL OR c.sent_at <= done.sent_at)
    RETURNING c.id
  ),
  head AS (
    -- The command the agent starts now: its first in-flight command that went out after the one
    -- answered, in the order they went out (by sent_at; a claim's batch shares one and goes out
    -- in creation order; a row never recorded counts as first), which is the order the agent
    -- runs them in. Not one that went out ahead of the one answered: the agent lost that one (or
    -- its answer), whose lease must run out for it to be sent again or failed; restarted on every
    -- answer, it never would. One answered without a record of its sending (the record lost)
    -- went out by now: the ones created after it are behind it. Pushes recorded together went
    -- out in commit order, which for two creates committing at once may differ from creation
    -- order: then the next command keeps the lease it had, which the ack it sends on starting
    -- replaces (a docker agent's, sent no ack, runs 15 min from its push).
    SELECT c.id, c.status FROM agent_commands c, done
    WHERE c.agent_id = p_agent_id AND c.status IN ('sent', 'ack') AND c.id <> done.id
      AND CASE WHEN done.sent_at IS NULL THEN (c.created_at, c.seq) > (done.created_at, done.seq)
        ELSE (coalesce(c.sent_at, '-infinity'), c.created_at, c.seq) > (done.sent_at, done.created_at, done.seq) END
      AND c.id NOT IN (SELECT id FROM superseded)
    ORDER BY c.sent_at NULLS FIRST, c.created_at, c.seq LIMIT 1
  ),
  relet AS (
    -- docker agents never ack: their head command gets the run lease (see sentLeaseSeconds).
    UPDATE agent_commands c
    SET lease_expires_at = now() + make_interval(secs => CASE
      WHEN (SELECT a.platform FROM agents a WHERE a.agent_id = p_agent_id) = 'docker' THEN p_run_lease_seconds
      ELSE p_ack_lease_seconds END)
    WHERE c.id = (SELECT id FROM head WHERE status = 'sent') AND EXISTS (SELECT 1 FROM done)
    RETURNING c.id
  ),
  ran_late AS (
    -- The start or wake this answer reports as run, unless it had completed already (a repeat):
    -- still open (then finished above) or ended here meanwhile (superseded, failed, expired).
    -- Rows as they were before this statement.
    SELECT c.session_id FROM agent_commands c
    WHERE p_status = 'completed' AND c.command_id = p_command_id AND c.agent_id = p_agent_id
      AND c.action IN ('start_session', 'wake_session') AND c.status <> 'completed' AND c.session_id IS NOT NULL
  )
  SELECT (SELECT count(*) FROM done), (SELECT session_id FROM ran_late) INTO finished, ran_session;
  -- A statement of its own: it reads the sessions as this one left them.
  IF ran_session IS NOT NULL THEN
    stop_queued := stop_ended_session_again(p_agent_id, ran_session);
  END IF;
  RETURN jsonb_build_object('finished', finished > 0, 'stopQueued', stop_queued);
END
$$;
