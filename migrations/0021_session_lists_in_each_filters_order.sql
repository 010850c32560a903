-- Session list pages filtered by state are read off an index in the list's order too (review of
-- 0020). With only 0020's indexes, an administrator's page of a state whose sessions are old
-- walked every newer session and skipped it (93.6 ms at 500,000 sessions, against 1.0 ms before
-- 0020), and a user's page of one state read all of the user's sessions (4.66 ms for a user with
-- 50,000, against 0.035 ms through the original's (user_id, state)). (user_id, state) comes back
-- with the order's columns after it; (state, updated_at) gives way to (state, order): the sweep's
-- scans of `pending` and `terminating` sessions read those through it, filtering on updated_at
-- (3,000 pending sessions: 4.8-7.2 ms against 4.8 ms).
DROP INDEX "idx_sessions_state_updated";--> statement-breakpoint
CREATE INDEX "idx_sessions_user_state" ON "sessions" USING btree ("user_id","state",coalesce("created_at", '-infinity'::timestamptz),"id");--> statement-breakpoint
CREATE INDEX "idx_sessions_state_created" ON "sessions" USING btree ("state",coalesce("created_at", '-infinity'::timestamptz),"id");