ALTER TABLE "sessions" ADD COLUMN "snapshot_config" jsonb DEFAULT '{}'::jsonb;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "controller_id" varchar(255);