-- create_session_with_command (migration 0006) takes the agent it picks when it picks it, and
-- passes over an agent another transaction holds; the rest is restated unchanged. Before, the
-- selection read the agents without a lock and the session's load counter took the picked row
-- afterwards: creates running at the same moment all read the same least-loaded agent, then
-- queued on its row, each waiting for the one before it to commit, and all landed on it. In the
-- bench's throughput run (32 creates in flight over 1,000 agents) that wait was 5.3 of the
-- create statement's 6.3 ms, and the creates went one at a time. Now each takes the first agent
-- in the order (fewest sessions, then the latest heartbeat) that no other transaction holds: a
-- create placing a session on it, most often, so the next create sees its session coming. Only
-- when every selectable agent is held does it wait, for the first in the order, as before. The
-- lock is the one the load counter's trigger and migration 0025's take later in the same
-- transaction, taken earlier; a held row is re-read once it is taken, so an agent that went
-- offline or stale meanwhile is not picked.
CREATE OR REPLACE FUNCTION create_session_with_command(
  session jsonb,
  command jsonb,
  minimal_manifest jsonb,
  streaming jsonb,
  selection_window_seconds integer
) RETURNS TABLE (
  template_found boolean,
  agent_id varchar,
  created_at timestamptz,
  streaming_protocol varchar,
  streaming_port integer,
  streaming_path varchar,
  payload jsonb,
  older_pending_ids varchar[]
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  manifest jsonb;
  picked varchar;
  image text;
  rule jsonb;
BEGIN
  SELECT t.manifest INTO manifest FROM templates t WHERE t.name = session->>'template_name';
  template_found := FOUND;
  IF NOT template_found THEN
    RETURN NEXT;
    RETURN;
  END IF;
  IF jsonb_typeof(manifest) IS DISTINCT FROM 'object' OR manifest = '{}'::jsonb THEN
    manifest := minimal_manifest;
  END IF;

  SELECT a.agent_id INTO picked FROM agents a
  WHERE a.status = 'online' AND a.platform = session->>'platform'
    AND a.last_heartbeat > now() - make_interval(secs => selection_window_seconds)
  ORDER BY a.active_sessions, a.last_heartbeat DESC NULLS LAST
  LIMIT 1
  FOR NO KEY UPDATE OF a SKIP LOCKED;
  IF picked IS NULL THEN
    -- Every selectable agent is held (one agent, and a create placing a session on it): wait
    -- for the first in the same order rather than answer that there is none.
    SELECT a.agent_id INTO picked FROM agents a
    WHERE a.status = 'online' AND a.platform = session->>'platform'
      AND a.last_heartbeat > now() - make_interval(secs => selection_window_seconds)
    ORDER BY a.active_sessions, a.last_heartbeat DESC NULLS LAST
    LIMIT 1
    FOR NO KEY UPDATE OF a;
  END IF;
  agent_id := picked;
  IF picked IS NULL THEN
    RETURN NEXT;
    RETURN;
  END IF;

  -- Streaming: the first rule whose text the base image contains; else the fallback protocol
  -- on the first port's containerPort, or on the fallback port.
  image := CASE WHEN jsonb_typeof(manifest->'spec'->'baseImage') = 'string' THEN manifest->'spec'->>'baseImage' ELSE '' END;
  SELECT r.value INTO rule FROM jsonb_array_elements(streaming->'rules') WITH ORDINALITY AS r(value, ord)
  WHERE strpos(image, r.value->>'imageContains') > 0 ORDER BY r.ord LIMIT 1;
  IF rule IS NOT NULL THEN
    streaming_protocol := rule->>'protocol';
    streaming_port := (rule->>'port')::integer;
    streaming_path := rule->>'path';
  ELSE
    streaming_protocol := streaming->'fallback'->>'protocol';
    streaming_port := CASE WHEN jsonb_typeof(manifest->'spec'->'ports'->0->'containerPort') = 'number'
                           THEN (manifest->'spec'->'ports'->0->>'containerPort')::numeric::integer
                           ELSE (streaming->'fallback'->>'port')::integer END;
    streaming_path := NULL;
  END IF;

  INSERT INTO sessions AS s (id, user_id, template_name, state, app_type, namespace, platform, memory, cpu,
    persistent_home, idle_timeout, max_session_duration, agent_id, tags, org_id,
    streaming_protocol, streaming_port, streaming_path)
  VALUES (session->>'id', session->>'user_id', session->>'template_name', 'pending', '', session->>'namespace',
    session->>'platform', session->>'memory', session->>'cpu', (session->>'persistent_home')::boolean,
    session->>'idle_timeout', session->>'max_session_duration', picked,
    CASE WHEN jsonb_typeof(session->'tags') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(session->'tags')) END,
    session->>'org_id', streaming_protocol, streaming_port, streaming_path)
  RETURNING s.created_at INTO created_at;

  payload := (command->'payload') || jsonb_build_object('templateManifest', manifest);
  -- The agent's older commands still pending: the DO pushes this one at once only if it pushed
  -- every one of them already (see delivery.ts). Capped: that many means a backlog to drain.
  older_pending_ids := ARRAY(SELECT o.command_id FROM agent_commands o
    WHERE o.agent_id = picked AND o.status = 'pending' LIMIT 100);
  INSERT INTO agent_commands (command_id, agent_id, session_id, action, status, expires_at, max_attempts, payload)
  VALUES (command->>'command_id', picked, session->>'id', 'start_session', 'pending',
    (command->>'expires_at')::timestamptz, (command->>'max_attempts')::integer, payload);
  RETURN NEXT;
END
$$;
