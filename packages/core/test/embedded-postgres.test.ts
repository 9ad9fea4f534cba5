import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { resolvePostgres } from "../src/infra/postgres.ts";
import { freePort, isAlive } from "../test-support/testing.ts";
import { capturingLogger, childPids } from "@gozon/core/testing";

// Under /tmp, not mkdtemp's 0700 folder alone: as root, Postgres runs as the postgres user, who must reach it.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-pg-"));
fs.chmodSync(dataDir, 0o755);
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function query<T extends pg.QueryResultRow>(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const answers = (url: string) =>
  query(url, "SELECT 1").then(
    () => true,
    () => false,
  );

it("runs an embedded Postgres whose data survives a restart, shared but stopped only by its starter", async () => {
  const port = await freePort();
  const env = { DATABASE_URL: "embedded", DATA_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(port) };
  const config = loadConfig(env);
  const { log, lines } = capturingLogger();

  const first = await resolvePostgres(config, env, log);
  expect(first).toMatchObject({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, source: "embedded" });
  expect(await query(first.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
  await query(first.url, "CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')");
  const postmaster = Number(
    fs.readFileSync(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").split("\n")[0],
  );
  const backends = childPids(postmaster);

  // A second launcher reuses it; stopping that one must not stop the server.
  const second = await resolvePostgres(config, env, log);
  expect(second.url).toBe(first.url);
  await second.stop();
  expect(await answers(first.url)).toBe(true);

  await first.stop();
  expect(isAlive(postmaster)).toBe(false);
  for (const pid of backends) expect(isAlive(pid)).toBe(false);
  expect(await answers(first.url)).toBe(false);

  const third = await resolvePostgres(config, env, log);
  expect(await query(third.url, "SELECT value FROM kept")).toEqual([{ value: "still here" }]);
  await third.stop();
  expect(await answers(third.url)).toBe(false);
  expect(lines.filter((line) => line.msg === "initialising the embedded Postgres")).toHaveLength(1);
}, 180_000);
