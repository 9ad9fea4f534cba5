import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_DATABASE_URL, loadConfig } from "../src/config.ts";
import { resolvePostgres } from "../src/infra/postgres.ts";
import { freePort } from "../test-support/testing.ts";
import { capturingLogger } from "@gozon/core/testing";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-pg-config-"));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function resolve(env: NodeJS.ProcessEnv) {
  const { log } = capturingLogger();
  const fullEnv = { DATA_DIR: dataDir, ...env };
  return resolvePostgres(loadConfig(fullEnv), fullEnv, log);
}

async function localAnswers() {
  const client = new pg.Client({ connectionString: DEFAULT_DATABASE_URL, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

describe("resolvePostgres", () => {
  it("rejects a configured DATABASE_URL that does not answer, naming DATABASE_URL", async () => {
    const port = await freePort();
    await expect(resolve({ DATABASE_URL: `postgres://app:secret@127.0.0.1:${port}/app` })).rejects.toThrow(
      /DATABASE_URL \(postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/app\) cannot be reached/,
    );
  });

  it("uses the local server on 5432 when nothing is configured and it answers", async (context) => {
    if (!(await localAnswers())) context.skip();
    const resolved = await resolve({});
    expect(resolved).toMatchObject({ url: DEFAULT_DATABASE_URL, source: "local" });
    await resolved.stop(); // a no-op: it is not ours
    expect(await localAnswers()).toBe(true);
  });

  it("refuses an embedded port taken by a Postgres with another data directory", async (context) => {
    if (!(await localAnswers())) context.skip();
    await expect(resolve({ DATABASE_URL: "embedded", EMBEDDED_POSTGRES_PORT: "5432" })).rejects.toThrow(
      /EMBEDDED_POSTGRES_PORT/,
    );
  });

  it.skipIf(process.getuid?.() !== 0)(
    "as root, says clearly when the postgres user cannot reach the data folder",
    async () => {
      const privateDir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-private-")); // mode 0700
      try {
        await expect(
          resolve({
            DATABASE_URL: "embedded",
            DATA_DIR: path.join(privateDir, "data"),
            EMBEDDED_POSTGRES_PORT: String(await freePort()),
          }),
        ).rejects.toThrow(/OS user postgres .* cannot reach/);
      } finally {
        fs.rmSync(privateDir, { recursive: true, force: true });
      }
    },
  );
});
