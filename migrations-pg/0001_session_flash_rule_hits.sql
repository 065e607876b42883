ALTER TABLE "admin_sessions" ADD COLUMN "flash" text;--> statement-breakpoint
ALTER TABLE "rules" ADD COLUMN "hits" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "rules" ADD COLUMN "last_hit_at" bigint;