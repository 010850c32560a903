-- Commands `sent` or `ack` with no lease: rows from a StreamSpace database, which had no leases
-- (migration 0001 added the column as NULL), stuck there for good (the original never retried
-- them). A NULL lease never expires, and the lease sweep judges only an agent's oldest in-flight
-- command, so such a row also stranded every newer in-flight command of its agent.
-- They get a lease that has run out, so the next sweep judges them as it does any other, and the
-- default deadline of their action (COMMAND_TTL's defaults) where they have none: one older than that ends
-- `expired` instead of reaching its agent again, long after anyone waited for it.
UPDATE agent_commands
SET expires_at = coalesce(expires_at, created_at + CASE action
      WHEN 'start_session' THEN interval '15 minutes'
      WHEN 'wake_session' THEN interval '15 minutes'
      WHEN 'hibernate_session' THEN interval '30 minutes'
      WHEN 'stop_session' THEN interval '24 hours'
    END),
    lease_expires_at = now(),
    updated_at = now()
WHERE status IN ('sent', 'ack') AND lease_expires_at IS NULL;
