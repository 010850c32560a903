-- An agent's commands go out in created_at order. now() is when the inserting transaction began:
-- a DELETE whose transaction waited on the session's row lock behind a hibernate got an earlier
-- created_at than the hibernate it followed, and went out first. clock_timestamp() is when the
-- row is inserted. Existing rows keep their times.
ALTER TABLE "agent_commands" ALTER COLUMN "created_at" SET DEFAULT clock_timestamp();