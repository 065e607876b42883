CREATE TABLE `job_lanes` (
	`lane` text PRIMARY KEY NOT NULL,
	`queue` text NOT NULL,
	`next_at` integer,
	`ready_at` integer DEFAULT 0 NOT NULL,
	`tat` real DEFAULT 0 NOT NULL,
	`hold_until` integer DEFAULT 0 NOT NULL,
	`rate` real DEFAULT 0 NOT NULL,
	`burst` integer DEFAULT 1 NOT NULL,
	`ordered` integer DEFAULT 0 NOT NULL,
	`full` integer DEFAULT 0 NOT NULL,
	`backlog` integer DEFAULT 0 NOT NULL,
	`dropped` integer DEFAULT 0 NOT NULL,
	`drop_noted_at` integer,
	`drop_noted_count` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `job_lanes_next` ON `job_lanes` (`queue`,`next_at`) WHERE next_at IS NOT NULL;--> statement-breakpoint
DROP INDEX `jobs_claim`;--> statement-breakpoint
ALTER TABLE `jobs` ADD `lane` text;--> statement-breakpoint
CREATE INDEX `jobs_lane` ON `jobs` (`lane`,`state`,`run_at`,`id`) WHERE lane IS NOT NULL;--> statement-breakpoint
CREATE INDEX `jobs_claim` ON `jobs` (`queue`,`state`,`run_at`,`id`) WHERE lane IS NULL;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `backlog_cap` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `backlog_policy` text DEFAULT 'drop_oldest' NOT NULL;