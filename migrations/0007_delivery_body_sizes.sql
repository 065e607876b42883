ALTER TABLE `delivery_attempts` ADD `request_body_size` integer;--> statement-breakpoint
ALTER TABLE `delivery_attempts` ADD `response_body_size` integer;--> statement-breakpoint
ALTER TABLE `delivery_attempts` ADD `response_truncated` integer;