CREATE TABLE `alert_enrichments` (
	`alert_id` text NOT NULL,
	`type` text NOT NULL,
	`value` text NOT NULL,
	`results` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`alert_id`, `type`, `value`),
	FOREIGN KEY (`alert_id`) REFERENCES `alerts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `enrichers` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`indicator_types` text NOT NULL,
	`url_template` text NOT NULL,
	`headers` text NOT NULL,
	`timeout_ms` integer NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `enrichers_tenant_name` ON `enrichers` (`tenant_id`,`name`);--> statement-breakpoint
CREATE TABLE `watchlists` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`label` text NOT NULL,
	`severity` text,
	`active` integer DEFAULT true NOT NULL,
	`entries` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `watchlists_tenant_name` ON `watchlists` (`tenant_id`,`name`);--> statement-breakpoint
ALTER TABLE `alerts` ADD `enrichment_error` text;