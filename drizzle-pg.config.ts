import { defineConfig } from "drizzle-kit";

// The PostgreSQL twin of drizzle.config.ts: `make migrations-pg NAME=...`
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/pg-schema.ts",
  out: "./migrations-pg",
});
