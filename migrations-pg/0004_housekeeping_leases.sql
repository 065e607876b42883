CREATE TABLE "housekeeping_leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"lease_until" bigint NOT NULL,
	"done_at" bigint
);
