// Reference (c): the monolith (monolith-server.ts) in its own process, on a scratch database that holds
// both services' tables exactly as their migrations make them (orders in schema `orders`, payments in
// schema `payments`: the two services share table names such as `outbox`). Driven as the saga is: over
// HTTP with the same REST client, lane i is shopper i (same user ids, same funded balance, same amounts),
// each lane placing its next order when the previous one's answer (the settled order) arrives.
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import pg from "pg";
import { createAccessTokens } from "@gozon/api/identity/tokens";
import { startProcess } from "@gozon/core/testing";
import { dropDatabase, ensureDatabase } from "@gozon/db/databases";
import { migrationsDir, readMigrations } from "@gozon/db/migrate";
import { uniqueTestDatabaseUrl } from "@gozon/db/testing";
import { apiClient, type ApiClient } from "@gozon/system-tests/client";
import { random } from "@gozon/system-tests/load";
import { redisVariables } from "@gozon/system-tests/redis-target";
import { REPLY_CONCURRENCY, type FloorQueues } from "./bullmq-reference.ts";
import { arrivalSource, closedLoop, openLoop, type LoopResult } from "./loop.ts";

export type MonolithReference = Awaited<ReturnType<typeof startMonolithReference>>;

/** Runs each service's migrations in a schema of its own, as the services' own databases have them. */
async function createTables(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const service of ["orders", "payments"] as const) {
      await client.query(`CREATE SCHEMA ${service}`);
      await client.query(`SET search_path TO ${service}`);
      for (const migration of await readMigrations(migrationsDir(service))) await client.query(migration.sql);
    }
  } finally {
    await client.end();
  }
}

/** Funded accounts (with their TOP_UP ledger entries) for `userIds`: the saga's shoppers. */
async function fundAccounts(url: string, userIds: string[], balance: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO payments.accounts (user_id, balance, updated_at) SELECT unnest($1::uuid[]), $2, now()`,
      [userIds, balance],
    );
    await client.query(
      `INSERT INTO payments.ledger_entries (user_id, kind, amount, balance_after)
       SELECT unnest($1::uuid[]), 'TOP_UP', $2, $2`,
      [userIds, balance],
    );
  } finally {
    await client.end();
  }
}

export async function startMonolithReference(opts: {
  userIds: string[];
  poolMax: number;
  benchDir: string;
  /** The BullMQ reference's queues for the floor's hops (floor-reference.ts). */
  floor: FloorQueues;
}) {
  const url = uniqueTestDatabaseUrl("bench", "monolith");
  await ensureDatabase(url);
  const secret = randomBytes(32).toString("base64url");
  let server: ReturnType<typeof startProcess> | undefined;
  const close = async () => {
    await server?.stop("SIGTERM");
    await dropDatabase(url);
  };

  let baseUrl: string;
  let shoppers: ApiClient[];
  try {
    await createTables(url);
    await fundAccounts(url, opts.userIds, 1_000_000_000);
    server = startProcess("node", ["--import", "tsx", path.join(opts.benchDir, "src/monolith-server.ts")], {
      cwd: opts.benchDir,
      env: {
        ...process.env,
        MONOLITH_DATABASE_URL: url,
        MONOLITH_JWT_SECRET: secret,
        MONOLITH_POOL_MAX: String(opts.poolMax),
        // The environment's Redis, for the floor's hops (a relative REDIS_TLS_CA made absolute).
        ...redisVariables(),
        FLOOR_BULL_PREFIX: opts.floor.prefix,
        FLOOR_QUEUE_REQUESTS: opts.floor.requests,
        FLOOR_QUEUE_REPLIES: opts.floor.replies,
        FLOOR_REPLY_CONCURRENCY: String(REPLY_CONCURRENCY),
      },
    });
    await server.waitForOutput(/monolith listening on /, 60_000);
    baseUrl = /monolith listening on (\S+)/.exec(server.output())![1]!;
    // Tokens signed with the server's secret by the product's own signer; they outlive the bench.
    const tokens = createAccessTokens({ secret, ttlSeconds: 24 * 3600, now: () => new Date() });
    shoppers = await Promise.all(
      opts.userIds.map(async (id) =>
        apiClient(baseUrl, (await tokens.sign({ id, role: "SHOPPER" }, randomUUID())).token),
      ),
    );
  } catch (error) {
    await close();
    throw error;
  }

  const amount = random(7);
  const arrivals = arrivalSource();
  let sequence = 0;
  /** One order of lane `lane`'s shopper, answered settled; with `floor`, its hops follow. Its id. */
  const placeOrder = async (lane: number, floor = false) => {
    const api = shoppers[lane % shoppers.length] as ApiClient;
    const { order } = await api.call<{ order: { id: string; status: string } }>(
      "POST",
      "/orders",
      { amount: amount(100, 4_000), description: `bench #${++sequence}` },
      floor ? { "x-bench-floor": "1" } : {},
    );
    if (order.status === "NEW") throw new Error(`monolith answered with an unsettled order ${order.id}`);
    return order.id;
  };

  return {
    url,
    baseUrl,
    /** The server's pid, for the CPU meter. */
    pid: server.child.pid,
    /** A floor order of lane `lane`'s shopper (floor-reference.ts): its id, once answered. */
    placeFloorOrder: (lane: number) => placeOrder(lane, true),
    run: (concurrency: number, seconds: number): Promise<LoopResult> =>
      closedLoop(concurrency, seconds, (lane) => placeOrder(lane).then(() => {})),
    /** Each run continues the arrivals of the one before (the warm-up). */
    runOpen: (rate: number, seconds: number) =>
      openLoop(rate, seconds, (lane) => placeOrder(lane).then(() => {}), arrivals),
    /**
     * The effects add up: balance == sum(ledger) per account, every order settled with its two change-log
     * rows, and a debit for exactly the FINISHED orders.
     */
    async audit(): Promise<string[]> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const problems: string[] = [];
        const balances = await client.query<{ user_id: string }>(
          `SELECT a.user_id FROM payments.accounts a
           JOIN (SELECT user_id, sum(amount) AS total FROM payments.ledger_entries GROUP BY user_id) l
             USING (user_id)
           WHERE a.balance <> l.total`,
        );
        for (const row of balances.rows)
          problems.push(`monolith: account ${row.user_id} balance != sum(ledger)`);
        const orders = await client.query<{ id: string }>(
          `SELECT o.id FROM orders.orders o
           LEFT JOIN payments.ledger_entries d ON d.order_id = o.id
           WHERE o.status = 'NEW'
              OR (o.status = 'FINISHED') <> (d.id IS NOT NULL)
              OR (SELECT count(*) FROM orders.order_changes c WHERE c.order_id = o.id) <> 2
           LIMIT 10`,
        );
        for (const row of orders.rows) problems.push(`monolith: order ${row.id} not settled exactly once`);
        return problems;
      } finally {
        await client.end();
      }
    },
    close,
  };
}
