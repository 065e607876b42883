// Loaded before every test file of a `bun test` run (bunfig.toml [test] preload). An afterAll here
// runs once, after the whole run: it stops the throwaway PostgreSQL clusters the run started and
// left running (the shared one above all), which an "exit" handler alone did not always do.
import { afterAll } from "bun:test";
import { stopAllClusters } from "./pg/cluster";

afterAll(() => {
  stopAllClusters();
});
