import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config";

test("defaults", () => {
  const { config } = loadConfig([], {});
  expect(config).toMatchObject({ port: 8080, host: "0.0.0.0", dataDir: "./data", rateLimit: 10, rateBurst: 50, bodyLimit: 1048576, durability: "full" });
});

test("env twins, and flags win over env", () => {
  const env = { KEEPWATCH_PORT: "9000", KEEPWATCH_DATA_DIR: "/var/lib/kw", KEEPWATCH_RATE_LIMIT: "0", KEEPWATCH_BODY_LIMIT: "2MiB" };
  const { config, rest } = loadConfig(["--port", "9100", "--durability=normal", "--other"], env);
  expect(config.port).toBe(9100);
  expect(config.dataDir).toBe("/var/lib/kw");
  expect(config.rateLimit).toBe(0);
  expect(config.bodyLimit).toBe(2 * 1024 * 1024);
  expect(config.durability).toBe("normal");
  expect(rest).toEqual(["--other"]);
});

test("a bad value is one line naming the setting", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--port", "abc"], {}, /--port/],
    [[], { KEEPWATCH_PORT: "70000" }, /KEEPWATCH_PORT/],
    [[], { KEEPWATCH_DURABILITY: "sometimes" }, /KEEPWATCH_DURABILITY.*must be one of full, normal/],
    [["--rate-limit", "-1"], {}, /--rate-limit/],
    [["--body-limit", "lots"], {}, /--body-limit/],
    [["--port"], {}, /--port: a value is required/],
  ];
  for (const [argv, env, re] of cases) {
    let err: unknown;
    try {
      loadConfig(argv, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain("\n");
  }
});
