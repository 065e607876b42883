CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`prefix` text NOT NULL,
	`hash` text NOT NULL,
	`scopes` text NOT NULL,
	`sources` text,
	`rate_limit` real,
	`rate_burst` integer,
	`expires_at` integer,
	`revoked_at` integer,
	`last_used_at` integer,
	`rotated_from` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_prefix` ON `api_keys` (`prefix`);--> statement-breakpoint
CREATE INDEX `api_keys_tenant` ON `api_keys` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `event_indicators` (
	`event_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`type` text NOT NULL,
	`value` text NOT NULL,
	`origin` text NOT NULL,
	PRIMARY KEY(`event_id`, `type`, `value`),
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `event_indicators_lookup` ON `event_indicators` (`tenant_id`,`type`,`value`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`received_at` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	`source_name` text NOT NULL,
	`source` text NOT NULL,
	`type` text NOT NULL,
	`module` text NOT NULL,
	`title` text NOT NULL,
	`summary` text NOT NULL,
	`severity` text NOT NULL,
	`severity_rank` integer NOT NULL,
	`severity_raw` text,
	`host` text,
	`tags` text NOT NULL,
	`payload` text NOT NULL,
	`raw_payload` text NOT NULL,
	`dedup_key` text,
	`external_id` text,
	`warnings` text,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `events_tenant_id` ON `events` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_tenant_source_name` ON `events` (`tenant_id`,`source_name`,`id`);--> statement-breakpoint
CREATE INDEX `events_tenant_source` ON `events` (`tenant_id`,`source`,`id`);--> statement-breakpoint
CREATE INDEX `events_tenant_type` ON `events` (`tenant_id`,`type`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `events_external_id` ON `events` (`tenant_id`,`source_name`,`external_id`) WHERE external_id IS NOT NULL;--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`route` text NOT NULL,
	`ids` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `route`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_created` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenants_name_unique` ON `tenants` (`name`);