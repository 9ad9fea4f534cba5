// Scale-out with real processes: two of each worker (one of each SIGKILLed mid-run), two reconcilers that
// must not both re-request one order, and the payments database on a second Postgres server.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "@gozon/core/config";
import { resolvePostgres, type ResolvedPostgres } from "@gozon/core/infra/postgres";
import { capturingLogger, freePort, waitFor } from "@gozon/core/testing";
import { audit, countOrders, type Audit } from "../src/invariants.ts";
import { createShoppers, placeOrders, waitUntilSettled, type Shopper } from "../src/load.ts";
import { startSystem, type System } from "../src/system.ts";

const ORDERS = Number(process.env.SCALE_ORDERS ?? 300);
const SHOPPERS = 20;
const STALE = 40;
// The reconciler runs every min(5 s, RECONCILE_AFTER_MS / 2).
const RECONCILE_AFTER_MS = 6_000;
const RECONCILE_EVERY_MS = 3_000;

let system: System | undefined;

afterEach(async (context) => {
  if (context.task.result?.state === "fail" && system) console.error(system.output().slice(-20_000));
  await system?.stop();
  system = undefined;
});

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

function expectHealthy(result: Audit, total: number) {
  expect(result.violations).toEqual([]);
  expect(result.orders.NEW).toBe(0);
  expect(result.orders.total).toBe(total);
  expect(result.debits).toBe(result.orders.FINISHED);
  expect(result.orders.FINISHED).toBeGreaterThan(0);
  expect(result.cancelled.NO_ACCOUNT).toBeGreaterThan(0);
  expect(result.cancelled.INSUFFICIENT_FUNDS).toBeGreaterThan(0);
}

/** Sum of `count` over one kind of JSON log line, by the worker instance that wrote it. */
function loggedCounts(output: string, msg: string) {
  const by = new Map<string, number>();
  for (const line of output.split("\n")) {
    if (!line.startsWith("{") || !line.includes(msg)) continue;
    const entry = JSON.parse(line) as { name: string; msg: string; count?: number };
    if (entry.msg === msg) by.set(entry.name, (by.get(entry.name) ?? 0) + (entry.count ?? 0));
  }
  return by;
}

describe("two of each worker", () => {
  it("one reconciler round re-requests a stale order once, though two reconcilers run", async () => {
    system = await startSystem({
      ordersWorkers: 2,
      paymentsWorkers: 2,
      env: { RECONCILE_AFTER_MS: String(RECONCILE_AFTER_MS) },
    });
    const sys = system;
    const [shopper] = await createShoppers(sys.webUrls, 1, 5);
    const { userId } = shopper as Shopper;

    // Make the two reconcilers overlap: the first to claim the stale orders blocks on its outbox insert
    // while holding their row locks, and the other one ticks at least once meanwhile. It must skip them.
    // The outbox is locked before the stale orders exist, so no reconciler can re-request them first.
    let staleIds: string[] = [];
    await withClient(sys.dbs.urls.orders, async (blocker) => {
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE outbox IN EXCLUSIVE MODE");
      // Orders whose payment request Redis lost: NEW, requested an hour ago, their request nowhere.
      staleIds = await withClient(sys.dbs.urls.orders, async (client) => {
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO orders (id, user_id, amount, description, status, payment_requested_at,
                               payment_request_id, updated_at)
           SELECT gen_random_uuid(), $1, 1, 'lost request', 'NEW', now() - interval '1 hour',
                  gen_random_uuid(), now()
           FROM generate_series(1, ${STALE})
           RETURNING id::text`,
          [userId],
        );
        return rows.map((row) => row.id);
      });
      // Watched from another session: inside the blocker's transaction pg_stat_activity is a frozen snapshot.
      await withClient(sys.dbs.urls.orders, (watcher) =>
        waitFor(
          () =>
            watcher
              .query<{ n: string }>(
                `SELECT count(*) AS n FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%INSERT INTO outbox%'`,
              )
              .then(({ rows }) => Number(rows[0]!.n) >= 1),
          { what: "a reconciler holding the stale orders and waiting on the outbox", timeoutMs: 30_000 },
        ),
      );
      // Two full reconciler periods (well inside the workers' 15 s statement timeout): the other instance's
      // reconciler certainly ran while the rows were held.
      await new Promise((resolve) => setTimeout(resolve, 2 * RECONCILE_EVERY_MS + 500));
      await blocker.query("COMMIT");
    });

    await waitFor(
      () =>
        withClient(sys.dbs.urls.orders, (client) =>
          client.query<{ n: string }>(
            "SELECT count(*) AS n FROM orders WHERE id = ANY($1) AND status = 'NEW'",
            [staleIds],
          ),
        ).then(({ rows }) => Number(rows[0]!.n) === 0),
      { what: "the stale orders to settle", timeoutMs: 60_000 },
    );
    const requests = await withClient(sys.dbs.urls.orders, (client) =>
      client.query<{ order_id: string; n: string }>(
        `SELECT payload->'payload'->>'orderId' AS order_id, count(*) AS n FROM outbox
         WHERE type = 'PaymentRequested' AND payload->'payload'->>'orderId' = ANY($1)
         GROUP BY 1`,
        [staleIds],
      ),
    );
    expect(requests.rows).toHaveLength(STALE);
    expect(requests.rows.filter((row) => row.n !== "1")).toEqual([]);
    // Log lines go out within LOG_FLUSH_MS (the logger buffers them), so wait for the last of them.
    const reRequested = () =>
      [...loggedCounts(sys.output(), "re-requested payment for orders still NEW").values()].reduce(
        (a, b) => a + b,
        0,
      );
    await waitFor(() => reRequested() >= STALE, { what: "every re-request logged" });
    expect(reRequested()).toBe(STALE);
  });

  it("keeps settling while one of each is SIGKILLed, and settles everything once they are back", async () => {
    system = await startSystem({ ordersWorkers: 2, paymentsWorkers: 2 });
    const sys = system;
    const shoppers = await createShoppers(sys.webUrls, SHOPPERS, 31);
    const third = Math.floor(ORDERS / 3);

    let killed: Promise<void> | undefined;
    await placeOrders(shoppers, third, {
      seed: 32,
      // Mid-run: orders are in every hop when the two instances die.
      onProgress: (done) => {
        if (done === Math.floor(third / 2)) {
          killed = Promise.all([sys.kill("orders-worker-2"), sys.kill("payments-worker-2")]).then(() => {});
        }
      },
    });
    await killed;
    expect(sys.running().has("orders-worker-2")).toBe(false);
    expect(sys.running().has("payments-worker-2")).toBe(false);

    // Only the survivors run now: every order so far, and a third more, settles without the dead ones.
    await placeOrders(shoppers, third, { seed: 33 });
    await waitUntilSettled(sys.dbs.urls, 2 * third);
    expect(sys.running().has("orders-worker-2")).toBe(false);
    expect(sys.running().has("payments-worker-2")).toBe(false);

    await Promise.all([sys.start("orders-worker-2"), sys.start("payments-worker-2")]);
    const rest = ORDERS - 2 * third;
    await placeOrders(shoppers, rest, { seed: 34 });
    await waitUntilSettled(sys.dbs.urls, ORDERS);
    const result = await audit(sys.dbs.urls);
    console.log("scale-out kill:", result.orders, result.cancelled);
    expectHealthy(result, ORDERS);
    expect(sys.output().match(/\(killed\)/g)).toHaveLength(2);
    // Each instance logs under its own name.
    for (const name of ["orders-worker-1", "orders-worker-2", "payments-worker-1", "payments-worker-2"]) {
      expect(sys.output()).toContain(`"name":"${name}"`);
    }
  });
});

describe("databases apart", () => {
  // Under /tmp, not mkdtemp's 0700 folder alone: as root, Postgres runs as the postgres user, who must reach it.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-pg-payments-"));
  fs.chmodSync(dataDir, 0o755);
  let second: ResolvedPostgres | undefined;
  afterAll(async () => {
    await second?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs the saga with the payments database on a second Postgres server", async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      NODE_ENV: "test",
      DATABASE_URL: "embedded",
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(port),
    };
    second = await resolvePostgres(loadConfig(env), env, capturingLogger().log);

    system = await startSystem({ databaseServers: { payments: second.url } });
    const sys = system;
    const serverPort = (url: string) =>
      withClient(url, (client) => client.query<{ port: number }>("SELECT inet_server_port() AS port")).then(
        ({ rows }) => rows[0]!.port,
      );
    expect(await serverPort(sys.dbs.urls.payments)).toBe(port);
    expect(await serverPort(sys.dbs.urls.orders)).not.toBe(port);

    const shoppers = await createShoppers(sys.webUrls, SHOPPERS, 41);
    await placeOrders(shoppers, ORDERS, { seed: 42 });
    await waitUntilSettled(sys.dbs.urls, ORDERS);
    const result = await audit(sys.dbs.urls);
    expectHealthy(result, ORDERS);
    // The web instance's readiness checks the payments database on its own server.
    const ready = await fetch(`${sys.webUrls[0]}/api/ready`).then((response) => response.json());
    expect(ready).toMatchObject({ checks: { paymentsDb: "ok", ordersDb: "ok", identityDb: "ok" } });
    expect((await countOrders(sys.dbs.urls)).NEW).toBe(0);
  });
});
