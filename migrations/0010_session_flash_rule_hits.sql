ALTER TABLE `admin_sessions` ADD `flash` text;--> statement-breakpoint
ALTER TABLE `rules` ADD `hits` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `rules` ADD `last_hit_at` integer;