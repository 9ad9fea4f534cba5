import pg from "pg";
import { databaseName, services, withDatabase, type ServiceDatabaseUrls } from "@gozon/core/config";

/** Codes Postgres returns when a concurrent CREATE DATABASE of the same name won the race. */
const ALREADY_CREATED = new Set(["42P04", "23505"]); // duplicate_database, unique_violation (pg_database)

/** Runs `fn` on the server's maintenance database: a database cannot create or drop itself. */
async function onMaintenanceDb<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the URL's database unless it exists; returns whether this call created it. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return onMaintenanceDb(url, async (client) => {
    const existing = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (existing.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      return true;
    } catch (error) {
      if (ALREADY_CREATED.has((error as { code?: string }).code ?? "")) return false;
      throw error;
    }
  });
}

export async function ensureDatabases(urls: ServiceDatabaseUrls): Promise<void> {
  await Promise.all(services.map((service) => ensureDatabase(urls[service])));
}

/** Drops the URL's database, disconnecting whoever still uses it (tests leave pools behind). */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await onMaintenanceDb(url, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
  );
}
