CREATE TABLE `alert_events` (
	`alert_id` text NOT NULL,
	`event_id` text NOT NULL,
	PRIMARY KEY(`alert_id`, `event_id`),
	FOREIGN KEY (`alert_id`) REFERENCES `alerts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_events_event` ON `alert_events` (`event_id`);--> statement-breakpoint
CREATE TABLE `alert_timeline` (
	`id` text PRIMARY KEY NOT NULL,
	`alert_id` text NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`actor` text NOT NULL,
	`data` text NOT NULL,
	FOREIGN KEY (`alert_id`) REFERENCES `alerts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_timeline_alert` ON `alert_timeline` (`alert_id`,`id`);--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`fingerprint` text NOT NULL,
	`title` text NOT NULL,
	`severity` text NOT NULL,
	`severity_rank` integer NOT NULL,
	`status` text NOT NULL,
	`classification` text,
	`assignee` text,
	`enrichment_status` text NOT NULL,
	`tags` text NOT NULL,
	`source_name` text NOT NULL,
	`source` text NOT NULL,
	`rule_id` text,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`count` integer NOT NULL,
	`suppress_until` integer,
	`first_event_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`closed_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alerts_tenant_id` ON `alerts` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_tenant_status` ON `alerts` (`tenant_id`,`status`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_fingerprint` ON `alerts` (`tenant_id`,`fingerprint`,`last_seen`);--> statement-breakpoint
CREATE TABLE `config_versions` (
	`name` text PRIMARY KEY NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`kind` text NOT NULL,
	`type` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`batch_id` text,
	`job_id` integer,
	`replays` integer DEFAULT 0 NOT NULL,
	`last_status_code` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`webhook_id`) REFERENCES `webhooks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `deliveries_webhook` ON `deliveries` (`webhook_id`,`id`);--> statement-breakpoint
CREATE INDEX `deliveries_webhook_status` ON `deliveries` (`webhook_id`,`status`,`id`);--> statement-breakpoint
CREATE INDEX `deliveries_batch` ON `deliveries` (`batch_id`);--> statement-breakpoint
CREATE INDEX `deliveries_created` ON `deliveries` (`created_at`);--> statement-breakpoint
CREATE TABLE `delivery_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`delivery_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`started_at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`url` text NOT NULL,
	`request_headers` text NOT NULL,
	`request_body` text NOT NULL,
	`response_status` integer,
	`response_headers` text,
	`response_body` text,
	`error` text,
	`outcome` text NOT NULL,
	FOREIGN KEY (`delivery_id`) REFERENCES `deliveries`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `delivery_attempts_delivery` ON `delivery_attempts` (`delivery_id`,`id`);--> statement-breakpoint
CREATE INDEX `delivery_attempts_started` ON `delivery_attempts` (`started_at`);--> statement-breakpoint
CREATE TABLE `heartbeat_flips` (
	`id` text PRIMARY KEY NOT NULL,
	`heartbeat_id` text NOT NULL,
	`at` integer NOT NULL,
	`from_state` text NOT NULL,
	`to_state` text NOT NULL,
	FOREIGN KEY (`heartbeat_id`) REFERENCES `heartbeats`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `heartbeat_flips_hb` ON `heartbeat_flips` (`heartbeat_id`,`id`);--> statement-breakpoint
CREATE TABLE `heartbeat_pings` (
	`id` text PRIMARY KEY NOT NULL,
	`heartbeat_id` text NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`exit_code` integer,
	`method` text,
	`remote` text,
	`body` text,
	`event_id` text,
	FOREIGN KEY (`heartbeat_id`) REFERENCES `heartbeats`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `heartbeat_pings_hb` ON `heartbeat_pings` (`heartbeat_id`,`id`);--> statement-breakpoint
CREATE TABLE `heartbeats` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`token` text NOT NULL,
	`schedule_kind` text NOT NULL,
	`period_s` integer,
	`cron` text,
	`tz` text,
	`grace_s` integer NOT NULL,
	`max_runtime_s` integer,
	`severity` text NOT NULL,
	`filter` text,
	`state` text NOT NULL,
	`due_at` integer,
	`down_at` integer,
	`next_deadline` integer,
	`last_beat_at` integer,
	`last_start_at` integer,
	`alert_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `heartbeats_token` ON `heartbeats` (`token`);--> statement-breakpoint
CREATE INDEX `heartbeats_tenant` ON `heartbeats` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `heartbeats_deadline` ON `heartbeats` (`next_deadline`) WHERE next_deadline IS NOT NULL;--> statement-breakpoint
CREATE INDEX `heartbeats_filtered` ON `heartbeats` (`tenant_id`) WHERE filter IS NOT NULL;--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`queue` text NOT NULL,
	`kind` text NOT NULL,
	`payload` text NOT NULL,
	`state` text NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`run_at` integer NOT NULL,
	`lease_until` integer,
	`lease_token` text,
	`last_error` text,
	`idempotency_key` text,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `jobs_claim` ON `jobs` (`queue`,`state`,`run_at`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_idempotency` ON `jobs` (`queue`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;--> statement-breakpoint
CREATE INDEX `jobs_finished` ON `jobs` (`finished_at`);--> statement-breakpoint
CREATE TABLE `rule_hits` (
	`rule_id` text NOT NULL,
	`group_key` text NOT NULL,
	`at` integer NOT NULL,
	`event_id` text NOT NULL,
	FOREIGN KEY (`rule_id`) REFERENCES `rules`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `rule_hits_window` ON `rule_hits` (`rule_id`,`group_key`,`at`);--> statement-breakpoint
CREATE TABLE `rules` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`enabled` integer NOT NULL,
	`filter` text NOT NULL,
	`threshold` text,
	`action` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `rules_tenant` ON `rules` (`tenant_id`,`id`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`url` text NOT NULL,
	`state` text NOT NULL,
	`disabled_reason` text,
	`disabled_at` integer,
	`headers` text NOT NULL,
	`triggers` text NOT NULL,
	`filters` text NOT NULL,
	`mode` text NOT NULL,
	`interval_s` integer NOT NULL,
	`max_batch` integer NOT NULL,
	`rate_limit` real NOT NULL,
	`timeout_ms` integer NOT NULL,
	`retry` text NOT NULL,
	`ordered` integer NOT NULL,
	`secret` text NOT NULL,
	`previous_secret` text,
	`previous_secret_until` integer,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhooks_tenant` ON `webhooks` (`tenant_id`,`id`);