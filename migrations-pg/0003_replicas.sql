CREATE TABLE "replicas" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"version" text NOT NULL,
	"listen" text NOT NULL,
	"started_at" bigint NOT NULL,
	"seen_at" bigint NOT NULL,
	"stopped_at" bigint,
	"down_since" bigint
);
--> statement-breakpoint
CREATE INDEX "replicas_seen" ON "replicas" USING btree ("seen_at");