// Fresh, migrated service databases for integration tests, so test runs never share state.
import { randomBytes } from "node:crypto";
import {
  DEFAULT_DATABASE_URL,
  services,
  withDatabase,
  type Service,
  type ServiceDatabaseUrls,
} from "@gozon/core/config";
import { dropDatabase, ensureDatabase } from "../src/databases.ts";
import { migrateAll } from "../src/migrate.ts";
import type pg from "pg";
import type { SqlExecutor, SqlPool } from "../src/sql-client.ts";

export interface TestDatabases {
  urls: ServiceDatabaseUrls;
  drop(): Promise<void>;
}

/** DATABASE_URL's server when it names one, else the local default (`embedded` is not a server URL). */
export function testServerUrl(): string {
  const configured = process.env.DATABASE_URL;
  return configured?.startsWith("postgres") ? configured : DEFAULT_DATABASE_URL;
}

/** `gozon_t_<label>_<random>`: unique per call, and short enough for Postgres's 63-byte names. */
function uniquePrefix(label: string) {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .slice(0, 30);
  return `gozon_t_${safe}_${randomBytes(4).toString("hex")}`;
}

/** The URL of a uniquely named database on the test server, not created yet. */
export function uniqueTestDatabaseUrl(label = "test", suffix = "db"): string {
  return withDatabase(testServerUrl(), `${uniquePrefix(label)}_${suffix}`);
}

/**
 * Creates and migrates three databases named `gozon_t_<label>_<random>_<service>`, on the test server or,
 * for a service named in `servers`, on that server (databases apart).
 */
export async function createTestDatabases(
  label = "test",
  { servers = {} }: { servers?: Partial<Record<Service, string>> } = {},
): Promise<TestDatabases> {
  const prefix = uniquePrefix(label);
  const urls = Object.fromEntries(
    services.map((service) => [
      service,
      withDatabase(servers[service] ?? testServerUrl(), `${prefix}_${service}`),
    ]),
  ) as ServiceDatabaseUrls;
  const drop = async () => {
    await Promise.all(services.map((service) => dropDatabase(urls[service])));
  };
  try {
    await Promise.all(services.map((service) => ensureDatabase(urls[service])));
    await migrateAll(urls);
  } catch (error) {
    await drop();
    throw error;
  }
  return { urls, drop };
}

/**
 * The plan Postgres picks for the first query `run` sends through the client it is given, with sequential
 * and bitmap scans and sorts discouraged, so that even a tiny test table shows whether an index serves the
 * query in its order (a Sort node remains only when none can). The query is explained, not executed: that
 * client answers every query with no rows.
 */
export async function queryPlanOf(db: SqlPool, run: (db: SqlExecutor) => Promise<unknown>): Promise<string> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
    await tx.$executeRaw`SET LOCAL enable_bitmapscan = off`;
    await tx.$executeRaw`SET LOCAL enable_sort = off`;
    let plan: string | undefined;
    const explaining: SqlExecutor = {
      $queryRaw: async <T>(strings: TemplateStringsArray, ...values: unknown[]) => {
        if (plan === undefined) {
          const parts = [`EXPLAIN ${strings[0]}`, ...strings.slice(1)];
          const explained = Object.assign(parts, { raw: parts }) as unknown as TemplateStringsArray;
          const rows = await tx.$queryRaw<{ "QUERY PLAN": string }[]>(explained, ...values);
          plan = rows.map((row) => row["QUERY PLAN"]).join("\n");
        }
        return [] as T;
      },
      $executeRaw: async () => 0,
    };
    await run(explaining);
    if (plan === undefined) throw new Error("run sent no query");
    return plan;
  });
}

/**
 * The shared buffers (pages) one run of `sql` reads on `client`, from `EXPLAIN (ANALYZE, BUFFERS)`: it
 * runs the statement, so the count includes what a function it calls reads. On a client of its own, a
 * test can set the planner up first (`plan_cache_mode`) and keep its plans between runs.
 */
export async function pagesRead(client: pg.ClientBase, sql: string, values: unknown[]): Promise<number> {
  const { rows } = await client.query<{ "QUERY PLAN": { Plan: Record<string, number> }[] }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`,
    values,
  );
  const plan = rows[0]!["QUERY PLAN"][0]!.Plan;
  return plan["Shared Hit Blocks"]! + plan["Shared Read Blocks"]!;
}
