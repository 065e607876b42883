CREATE TABLE `source_settings` (
	`tenant_id` text NOT NULL,
	`source` text NOT NULL,
	`scheme` text NOT NULL,
	`secret` text,
	`header` text,
	`timestamp_header` text,
	`tolerance_s` integer DEFAULT 300 NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `source`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `source_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`source` text NOT NULL,
	`name` text NOT NULL,
	`prefix` text NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `source_tokens_prefix` ON `source_tokens` (`prefix`);--> statement-breakpoint
CREATE INDEX `source_tokens_tenant_source` ON `source_tokens` (`tenant_id`,`source`);