-- stop_ended_session_again (migration 0015) takes the session's row before it queues the stop,
-- and so reads the session as the transaction holding it leaves it; the rest is restated
-- unchanged. An administrator's retry of the session's failed start moves the session back to
-- `pending` and then refuses to go ahead while a stop of it is open. Read without the lock, a
-- late answer reporting that start as run saw the session still `failed` while the retry held
-- it, queued its stop, and both committed: the retried start behind a stop that ended its
-- session. Now the stop waits for the retry and, the session `pending` by then, is not queued;
-- or it comes first, and the retry sees it.
CREATE OR REPLACE FUNCTION stop_ended_session_again(p_agent_id varchar, p_session_id varchar) RETURNS varchar LANGUAGE sql AS $$
  INSERT INTO agent_commands (command_id, agent_id, session_id, action, payload, status, max_attempts, expires_at)
  SELECT 'cmd-' || gen_random_uuid(), p_agent_id, s.id, 'stop_session',
    jsonb_build_object('sessionId', s.id, 'namespace', coalesce(nullif(s.namespace, ''), 'streamspace')),
    'pending',
    coalesce(last_stop.max_attempts, (
      SELECT l.max_attempts FROM agent_commands l WHERE l.session_id = s.id ORDER BY l.created_at DESC, l.seq DESC LIMIT 1
    ), 5),
    now() + (last_stop.expires_at - last_stop.created_at)
  FROM sessions s
  LEFT JOIN LATERAL (
    SELECT l.max_attempts, l.expires_at, l.created_at FROM agent_commands l
    WHERE l.session_id = s.id AND l.action = 'stop_session'
    ORDER BY l.created_at DESC, l.seq DESC LIMIT 1
  ) last_stop ON true
  WHERE s.id = p_session_id AND s.state IN ('terminated', 'failed')
    AND NOT EXISTS (
      SELECT 1 FROM agent_commands o
      WHERE o.agent_id = p_agent_id AND o.session_id = s.id AND o.action = 'stop_session' AND o.status IN ('pending', 'sent', 'ack')
    )
  FOR UPDATE OF s
  RETURNING command_id
$$;
