CREATE TABLE "agent_commands" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "agent_commands_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"command_id" varchar(255) NOT NULL,
	"agent_id" varchar(255),
	"session_id" varchar(255),
	"action" varchar(50) NOT NULL,
	"payload" jsonb,
	"status" varchar(50) DEFAULT 'pending',
	"error_message" text,
	"result" jsonb,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now(),
	"sent_at" timestamp with time zone,
	"acknowledged_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now(),
	CONSTRAINT "agent_commands_command_id_unique" UNIQUE("command_id")
);
--> statement-breakpoint
CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" varchar(255) NOT NULL,
	"platform" varchar(50) NOT NULL,
	"region" varchar(100),
	"status" varchar(50) DEFAULT 'offline',
	"capacity" jsonb,
	"last_heartbeat" timestamp with time zone,
	"websocket_id" varchar(255),
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now(),
	"updated_at" timestamp with time zone DEFAULT now(),
	"cluster_id" varchar(255),
	"cluster_name" varchar(255),
	"api_key_hash" varchar(255),
	"api_key_created_at" timestamp with time zone,
	"api_key_last_used_at" timestamp with time zone,
	"org_id" varchar(255),
	"approval_status" varchar(20) DEFAULT 'approved',
	"approved_at" timestamp with time zone,
	"approved_by" varchar(255),
	CONSTRAINT "agents_agent_id_unique" UNIQUE("agent_id")
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"user_id" varchar(255),
	"team_id" varchar(255),
	"template_name" varchar(255),
	"state" varchar(50),
	"app_type" varchar(50) DEFAULT 'desktop',
	"active_connections" integer DEFAULT 0,
	"url" text,
	"namespace" varchar(255) DEFAULT 'streamspace',
	"created_at" timestamp with time zone DEFAULT now(),
	"updated_at" timestamp with time zone DEFAULT now(),
	"last_connection" timestamp with time zone,
	"last_disconnect" timestamp with time zone,
	"platform" varchar(50) DEFAULT 'kubernetes',
	"pod_name" varchar(255),
	"memory" varchar(50),
	"cpu" varchar(50),
	"persistent_home" boolean DEFAULT false,
	"idle_timeout" varchar(50),
	"max_session_duration" varchar(50),
	"last_activity" timestamp with time zone,
	"agent_id" varchar(255),
	"platform_metadata" jsonb,
	"cluster_id" varchar(255),
	"tags" text[],
	"org_id" varchar(255),
	"streaming_protocol" varchar(50) DEFAULT 'vnc',
	"streaming_port" integer DEFAULT 5900,
	"streaming_path" varchar(255),
	"termination_reason" varchar(255),
	"terminated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"name" varchar(255) PRIMARY KEY NOT NULL,
	"manifest" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now(),
	"updated_at" timestamp with time zone DEFAULT now()
);
--> statement-breakpoint
ALTER TABLE "agent_commands" ADD CONSTRAINT "agent_commands_agent_id_agents_agent_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("agent_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_agent_id_agents_agent_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("agent_id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_agent_commands_agent_status" ON "agent_commands" USING btree ("agent_id","status","created_at","seq");--> statement-breakpoint
CREATE INDEX "idx_agent_commands_session_id" ON "agent_commands" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "idx_agent_commands_status_created" ON "agent_commands" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "idx_agents_status" ON "agents" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_agents_platform_status" ON "agents" USING btree ("platform","status");--> statement-breakpoint
CREATE INDEX "idx_agents_last_heartbeat" ON "agents" USING btree ("last_heartbeat");--> statement-breakpoint
CREATE INDEX "idx_agents_approval_status" ON "agents" USING btree ("approval_status");--> statement-breakpoint
CREATE INDEX "idx_sessions_user_state" ON "sessions" USING btree ("user_id","state");--> statement-breakpoint
CREATE INDEX "idx_sessions_agent_state" ON "sessions" USING btree ("agent_id","state");--> statement-breakpoint
CREATE INDEX "idx_sessions_state_updated" ON "sessions" USING btree ("state","updated_at");