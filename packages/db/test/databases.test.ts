import pg from "pg";
import { describe, expect, it } from "vitest";
import { databaseName, services } from "@gozon/core/config";
import { dropDatabase, ensureDatabase } from "../src/databases.ts";
import { createTestDatabases, testServerUrl, uniqueTestDatabaseUrl } from "../test-support/testing.ts";
import { connect, onCleanup } from "./helpers.ts";

async function exists(url: string) {
  const client = await connect(testServerUrl());
  const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [
    databaseName(url),
  ]);
  return rowCount === 1;
}

describe("databases", () => {
  it("creates a missing database exactly once when asked twice at once", async () => {
    const url = uniqueTestDatabaseUrl("ensure");
    onCleanup(() => dropDatabase(url));

    const created = await Promise.all([ensureDatabase(url), ensureDatabase(url)]);
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(await ensureDatabase(url)).toBe(false);
    expect(await exists(url)).toBe(true);
  });

  it("drops a database even while a client is still connected to it", async () => {
    const url = uniqueTestDatabaseUrl("drop");
    await ensureDatabase(url);
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => undefined); // the forced drop terminates this connection
    await client.connect();

    await dropDatabase(url);
    expect(await exists(url)).toBe(false);
    await dropDatabase(url); // already gone: no error
  });

  it("createTestDatabases gives three migrated databases and drops them", async () => {
    const { urls, drop } = await createTestDatabases("helper");
    onCleanup(drop);
    for (const service of services) {
      expect(databaseName(urls[service])).toMatch(new RegExp(`^gozon_t_helper_[0-9a-f]{8}_${service}$`));
      const client = new pg.Client({ connectionString: urls[service] });
      await client.connect();
      const { rows } = await client.query("SELECT count(*)::int AS n FROM _prisma_migrations");
      await client.end();
      expect(rows[0].n).toBeGreaterThan(0);
    }
    await drop();
    for (const service of services) expect(await exists(urls[service])).toBe(false);
  });
});
