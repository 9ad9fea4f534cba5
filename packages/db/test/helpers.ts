import pg from "pg";
import { afterEach } from "vitest";
import { dropDatabase, ensureDatabase } from "../src/databases.ts";
import { uniqueTestDatabaseUrl } from "../test-support/testing.ts";

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `fn` after the current test, passed or failed. */
export function onCleanup(fn: () => Promise<unknown>) {
  cleanups.push(fn);
}

/** A new, empty database with a unique name, dropped after the test. */
export async function freshDatabase(label: string): Promise<string> {
  const url = uniqueTestDatabaseUrl(label);
  onCleanup(() => dropDatabase(url));
  await ensureDatabase(url);
  return url;
}

/** A connected client, closed after the test. */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  onCleanup(() => client.end());
  return client;
}
