import { createHash } from "node:crypto";
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { services } from "@gozon/core/config";
import { migrate, migrateAll, migrationsDir, readMigrations } from "../src/migrate.ts";
import { connect, freshDatabase, onCleanup } from "./helpers.ts";

const sha256File = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");

async function history(url: string) {
  const client = await connect(url);
  const { rows } = await client.query(
    `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, applied_steps_count,
            rolled_back_at, logs FROM _prisma_migrations ORDER BY migration_name`,
  );
  return rows;
}

/** A writable copy of a service's migrations folder, removed after the test. */
async function copyOfMigrations(service: (typeof services)[number]) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "gozon-migrations-"));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  await cp(migrationsDir(service), dir, { recursive: true });
  return dir;
}

async function addMigration(dir: string, name: string, sql: string) {
  await mkdir(path.join(dir, name));
  await writeFile(path.join(dir, name, "migration.sql"), sql);
}

describe("migrate", () => {
  it.each(services)(
    "applies %s's migrations once with Prisma's checksums; a second run is a no-op",
    async (service) => {
      const url = await freshDatabase(`apply_${service}`);
      const names = (await readMigrations(migrationsDir(service))).map((m) => m.name);
      expect(names.length).toBeGreaterThan(0);

      expect(await migrate(url, service)).toEqual({ applied: names });
      expect(await migrate(url, service)).toEqual({ applied: [] });

      const expected = await Promise.all(
        names.map(async (name) => ({
          migration_name: name,
          checksum: await sha256File(path.join(migrationsDir(service), name, "migration.sql")),
          finished: true,
          applied_steps_count: 1,
          rolled_back_at: null,
          logs: null,
        })),
      );
      expect(await history(url)).toEqual(expected);
    },
  );

  it("records each migration exactly once when five processes start at once", async () => {
    const [orders, payments, identity] = await Promise.all(services.map((s) => freshDatabase(`race_${s}`)));
    const urls = { orders: orders!, payments: payments!, identity: identity! };

    const runs = await Promise.all(Array.from({ length: 5 }, () => migrateAll(urls)));

    for (const service of services) {
      const names = (await readMigrations(migrationsDir(service))).map((m) => m.name);
      expect(runs.flatMap((run) => run[service].applied).sort()).toEqual(names);
      expect((await history(urls[service])).map((row) => row.migration_name)).toEqual(names);
    }
  });

  it("refuses an applied migration whose file was edited, naming it", async () => {
    const url = await freshDatabase("edited");
    const dir = await copyOfMigrations("identity");
    const [first] = await readMigrations(dir);
    await migrate(url, "identity", undefined, dir);
    const file = path.join(dir, first!.name, "migration.sql");

    // Line endings alone do not count as an edit, as in Prisma (git may convert them on checkout).
    await writeFile(file, first!.sql.replaceAll("\n", "\r\n"));
    await expect(migrate(url, "identity", undefined, dir)).resolves.toEqual({ applied: [] });

    await appendFile(file, "\nSELECT 1;\n");
    await expect(migrate(url, "identity", undefined, dir)).rejects.toThrow(
      new RegExp(`Migration ${first!.name} was edited after it was applied`),
    );
  });

  it("refuses a database that has a migration the folder lacks", async () => {
    const url = await freshDatabase("db_only");
    const dir = await copyOfMigrations("identity");
    await addMigration(dir, "29990101000000_extra", "CREATE TABLE extra (id INTEGER);");
    expect((await migrate(url, "identity", undefined, dir)).applied).toContain("29990101000000_extra");

    await rm(path.join(dir, "29990101000000_extra"), { recursive: true });
    await expect(migrate(url, "identity", undefined, dir)).rejects.toThrow(
      /Migration 29990101000000_extra is applied in database .* but missing from the migrations folder/,
    );
  });

  it("refuses to go on after a migration that Prisma recorded as failed", async () => {
    const url = await freshDatabase("failed");
    await migrate(url, "identity");
    const client = await connect(url);
    await client.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs) VALUES (gen_random_uuid(), $1, $2, 'boom')`,
      ["0".repeat(64), "29990101000000_broken"],
    );
    await expect(migrate(url, "identity")).rejects.toThrow(/Migration 29990101000000_broken failed earlier/);
  });

  it("rolls a failing migration back entirely, names it, and applies it once fixed", async () => {
    const url = await freshDatabase("rollback");
    const dir = await copyOfMigrations("identity");
    await addMigration(dir, "29990101000000_broken", "CREATE TABLE half (id INTEGER);\nSELECT 1 / 0;");

    await expect(migrate(url, "identity", undefined, dir)).rejects.toThrow(
      /Migration 29990101000000_broken failed on database .*: division by zero/,
    );
    const client = await connect(url);
    expect((await client.query(`SELECT to_regclass('half') AS t`)).rows[0].t).toBeNull();
    expect((await history(url)).map((row) => row.migration_name)).not.toContain("29990101000000_broken");

    await writeFile(
      path.join(dir, "29990101000000_broken", "migration.sql"),
      "CREATE TABLE half (id INTEGER);",
    );
    expect(await migrate(url, "identity", undefined, dir)).toEqual({ applied: ["29990101000000_broken"] });
  });
});
