// Applies the Prisma migrations of a service without Prisma's native schema engine (it cannot be
// downloaded offline). The bookkeeping is Prisma's own, so `prisma migrate deploy` and this applier
// agree on any database: same `_prisma_migrations` table, same checksums, same advisory lock.
import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { databaseName, services, type Service, type ServiceDatabaseUrls } from "@gozon/core/config";
import type { Logger } from "@gozon/core/logger";

/** Prisma Migrate's advisory lock key: taking the same one serializes us with `prisma migrate` too. */
export const PRISMA_MIGRATE_LOCK = 72707369;

/** Prisma's DDL for its history table, verbatim (prisma-engines, postgres schema connector). */
const CREATE_MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
  )`;

export function migrationsDir(service: Service): string {
  return fileURLToPath(new URL(`../prisma/${service}/migrations`, import.meta.url));
}

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** The migration folders in name order, as Prisma orders them. */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(path.join(dir, name, "migration.sql"));
      return { name, sql: bytes.toString("utf8"), checksum: sha256(bytes) };
    }),
  );
}

/** As Prisma checks it: a checkout with other line endings (git on Windows) still matches. */
function matchesChecksum(sql: string, checksum: string) {
  return [sql, sql.replaceAll("\r\n", "\n"), sql.replaceAll("\n", "\r\n")].some(
    (s) => sha256(s) === checksum,
  );
}

export class MigrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MigrationError";
  }
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

/** Refuses a database whose history does not match the folder: applying on top would hide the drift. */
function checkHistory(database: string, applied: AppliedRow[], local: Migration[]) {
  const byName = new Map(local.map((m) => [m.name, m]));
  for (const row of applied) {
    const name = row.migration_name;
    if (row.finished_at === null) {
      throw new MigrationError(
        `Migration ${name} failed earlier in database ${database} (finished_at is NULL in _prisma_migrations). ` +
          `Repair the database, then mark it rolled back (set rolled_back_at) before migrating again.`,
      );
    }
    const file = byName.get(name);
    if (file === undefined) {
      throw new MigrationError(
        `Migration ${name} is applied in database ${database} but missing from the migrations folder.`,
      );
    }
    if (!matchesChecksum(file.sql, row.checksum)) {
      throw new MigrationError(
        `Migration ${name} was edited after it was applied to database ${database} ` +
          `(checksum ${row.checksum} recorded, ${file.checksum} on disk). Add a new migration instead.`,
      );
    }
  }
}

/**
 * Applies the service's pending migrations, each in its own transaction together with its history row.
 * Safe to call from several processes at once: they queue on Prisma's advisory lock and the later ones
 * find nothing left to do.
 */
export async function migrate(
  url: string,
  service: Service,
  log?: Logger,
  dir: string = migrationsDir(service),
): Promise<{ applied: string[] }> {
  const database = databaseName(url);
  const local = await readMigrations(dir);
  // One dedicated connection: a session-level advisory lock belongs to the connection that took it.
  const client = new pg.Client({ connectionString: url, application_name: "gozon-migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const { rows } = await client.query<AppliedRow>(
      `SELECT migration_name, checksum, finished_at FROM _prisma_migrations
        WHERE rolled_back_at IS NULL ORDER BY started_at`,
    );
    checkHistory(database, rows, local);

    const done = new Set(rows.map((row) => row.migration_name));
    const applied: string[] = [];
    for (const migration of local.filter((m) => !done.has(m.name))) {
      log?.info({ service, database, migration: migration.name }, "applying migration");
      await applyOne(client, migration).catch((error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        throw new MigrationError(`Migration ${migration.name} failed on database ${database}: ${reason}`, {
          cause: error,
        });
      });
      applied.push(migration.name);
    }
    log?.info({ service, database, applied: applied.length }, applied.length ? "migrated" : "up to date");
    return { applied };
  } finally {
    // Closing the session releases the advisory lock, also when a query above failed.
    await client.end();
  }
}

// Unlike Prisma, a failed script leaves no half-applied state nor a "failed" row to resolve by hand:
// script and history row roll back together, so fixing the file and re-running is enough.
async function applyOne(client: pg.Client, migration: Migration) {
  await client.query("BEGIN");
  try {
    await client.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())`,
      [randomUUID(), migration.checksum, migration.name],
    );
    await client.query(migration.sql);
    await client.query(
      `UPDATE _prisma_migrations SET finished_at = clock_timestamp(), applied_steps_count = 1
        WHERE migration_name = $1 AND rolled_back_at IS NULL`,
      [migration.name],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** Migrates every service's database, one after the other so a failure stops the rest. */
export async function migrateAll(
  urls: ServiceDatabaseUrls,
  log?: Logger,
): Promise<Record<Service, { applied: string[] }>> {
  const result = {} as Record<Service, { applied: string[] }>;
  for (const service of services) result[service] = await migrate(urls[service], service, log);
  return result;
}
