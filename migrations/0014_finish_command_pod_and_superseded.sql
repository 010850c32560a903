-- A session shows the pod its agent's answer leaves it with. finish_agent_command moved only the
-- state: after a hibernate the session still showed its VNC url and a pod scaled away, after a
-- wake the pod from before the hibernate (k8s-agent sends no status for a wake; its complete
-- names the new pod), and a terminated session its deleted pod. Now a completion that leaves the
-- session hibernated, terminated or failed clears pod_name and url; one that names a podName
-- (start, wake) records it, and one leaving it running with a vncPort sets the VNC url, as the
-- start's status frame does.
--
-- A stop that ends its session cancels the session's start, hibernate or wake still open,
-- created and last sent before the stop ('superseded'). A start whose delivery or answer was
-- lost, re-sent after its lease ran out, reached the agent after the user's stop had run and
-- brought the pod back for a session shown terminated, with nothing left to stop it. The next
-- command's lease skips the cancelled ones.
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
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  finished integer;
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
      AND (c.sent_at IS NULL OR c.sent_at < done.sent_at)
    RETURNING c.id
  ),
  head AS (
    SELECT c.id, c.status FROM agent_commands c
    WHERE c.agent_id = p_agent_id AND c.status IN ('sent', 'ack')
      AND c.id NOT IN (SELECT id FROM done) AND c.id NOT IN (SELECT id FROM superseded)
    ORDER BY c.created_at, c.seq LIMIT 1
  ),
  relet AS (
    -- docker agents never ack: their head command gets the run lease (see sentLeaseSeconds).
    UPDATE agent_commands c
    SET lease_expires_at = now() + make_interval(secs => CASE
      WHEN (SELECT a.platform FROM agents a WHERE a.agent_id = p_agent_id) = 'docker' THEN p_run_lease_seconds
      ELSE p_ack_lease_seconds END)
    WHERE c.id = (SELECT id FROM head WHERE status = 'sent') AND EXISTS (SELECT 1 FROM done)
    RETURNING c.id
  )
  SELECT count(*) INTO finished FROM done;
  RETURN finished > 0;
END
$$;
