-- Session lists page newest first by (coalesce(created_at, '-infinity'), id) (sessionList). No
-- index gave that order: a user's page sorted all of the user's sessions, an administrator's page
-- sorted every session (348 ms at 1,000,000 sessions on a scratch database; 0.07 ms read off
-- this index). The user's index takes the place of the original's (user_id, state), which no
-- query here needed beyond what it serves (a user's list filtered by state). Sessions are never
-- deleted, so without these the lists slow down for good as they grow.
DROP INDEX "idx_sessions_user_state";--> statement-breakpoint
CREATE INDEX "idx_sessions_user_created" ON "sessions" USING btree ("user_id",coalesce("created_at", '-infinity'::timestamptz),"id");--> statement-breakpoint
CREATE INDEX "idx_sessions_created" ON "sessions" USING btree (coalesce("created_at", '-infinity'::timestamptz),"id");