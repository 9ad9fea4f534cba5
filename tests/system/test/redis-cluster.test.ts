// The whole system on a real Redis Cluster (REDIS_CLUSTER_NODES): queues, pub/sub fan-out, rate limits
// and readiness all in cluster mode, then a master SIGKILLed mid-run and the cluster failing over; and
// the outbox relay while the queues' master is down with no replica to take over.
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { waitFor } from "@gozon/core/testing";
import { createPaymentsClient } from "@gozon/db/clients";
import { createSqlPool } from "@gozon/db/sql-client";
import { createTestDatabases } from "@gozon/db/testing";
import { buildMessage } from "@gozon/messaging/contracts";
import { writeOutbox } from "@gozon/messaging/outbox";
import { createOutboxRelay } from "@gozon/messaging/outbox-relay";
import { createProducerConnection } from "@gozon/messaging/queues";
import { testSigningKey } from "@gozon/messaging/testing";
import { apiClient, signUp } from "../src/client.ts";
import { audit, type Audit } from "../src/invariants.ts";
import { subscribeFeed, type Received } from "../src/live.ts";
import { createShoppers, placeOrders, waitUntilSettled } from "../src/load.ts";
import { startRedisCluster, type RedisCluster } from "../src/redis-cluster.ts";
import { startSystem, type System } from "../src/system.ts";

// A few hundred orders keep this inside `npm test`; CLUSTER_ORDERS=5000 is the long variant.
const ORDERS = Number(process.env.CLUSTER_ORDERS ?? 300);
const SHOPPERS = 30;

// Nothing may quietly fall back to a single Redis: REDIS_URL names a port where none listens.
const NO_SINGLE_REDIS = { REDIS_URL: "redis://127.0.0.1:1" };

let system: System | undefined;
let cluster: RedisCluster | undefined;
const feeds: Array<ReturnType<typeof subscribeFeed>> = [];

afterEach(async (context) => {
  if (context.task.result?.state === "fail" && system) console.error(system.output().slice(-20_000));
  for (const feed of feeds.splice(0)) feed.close();
  await system?.stop();
  system = undefined;
  await cluster?.stop();
  cluster = undefined;
});

function expectHealthy(result: Audit) {
  expect(result.violations).toEqual([]);
  expect(result.orders.NEW).toBe(0);
  expect(result.orders.total).toBe(ORDERS);
  expect(result.debits).toBe(result.orders.FINISHED);
  expect(result.orders.FINISHED).toBeGreaterThan(0);
  expect(result.cancelled.NO_ACCOUNT).toBeGreaterThan(0);
  expect(result.cancelled.INSUFFICIENT_FUNDS).toBeGreaterThan(0);
}

const settledEvent = (events: Received[], orderId: string) =>
  events.find((e) => e.orderId === orderId && e.status !== "NEW");

describe("on a 3-master Redis Cluster", () => {
  it(`settles ${ORDERS} orders through two web instances with every invariant intact, and fans a settle out across instances`, async () => {
    cluster = await startRedisCluster({ masters: 3 });
    system = await startSystem({
      webInstances: 2,
      redisClusterNodes: cluster.nodesEnv,
      // Delivery within seconds then proves pub/sub carried it, not the feed's poll of the log.
      env: { ...NO_SINGLE_REDIS, FEED_POLL_MS: "60000" },
    });
    const sys = system;
    const [instanceA, instanceB] = sys.webUrls as [string, string];

    const ready = await fetch(`${instanceB}/api/ready`);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: { redis: "ok" } });
    expect(ready.status).toBe(200);

    // The cross-instance toast: Alice's socket is on B, her order goes through A.
    const alice = await signUp(instanceA, "alice");
    const aliceToken = (await apiClient(instanceA).login(alice.email, "password-123")).accessToken;
    const aliceOnB = subscribeFeed(instanceB, aliceToken, "orders.onStatusChange");
    feeds.push(aliceOnB);
    await waitFor(() => aliceOnB.isStarted(), { what: "Alice's subscription on B to start" });
    await alice.api.createAccount();
    await alice.api.topUp(5_000);
    const { order } = await alice.api.createOrder(1_200, "through instance A");
    const event = await waitFor(() => settledEvent(aliceOnB.events, order.id), { what: "A's settle on B" });
    expect(event).toMatchObject({ status: "FINISHED", userId: alice.userId });
    const { order: settled } = await alice.api.getOrder(order.id);
    expect(event.receivedAt - Date.parse(settled.updatedAt)).toBeLessThan(5_000);

    // The saga: money conserved per user, nothing left NEW, no duplicate effect.
    const shoppers = await createShoppers(sys.webUrls, SHOPPERS, 41);
    const started = Date.now();
    await placeOrders(shoppers, ORDERS - 1, { seed: 42 });
    const settledAt = await waitUntilSettled(sys.dbs.urls, ORDERS);
    const result = await audit(sys.dbs.urls);
    console.log(`cluster saga: ${ORDERS} orders settled in ${settledAt - started} ms`, result.orders);
    expectHealthy(result);
    expect(aliceOnB.errors).toEqual([]);

    // The BullMQ keys carry the hash tag: all on one master, one slot, as BullMQ requires.
    const probe = cluster.client();
    try {
      await probe.ping();
      const owners = new Map<string, number>();
      for (const node of probe.nodes("master")) {
        const keys = await node.keys(`{${sys.redisPrefix}}:bull:*`);
        if (keys.length > 0) owners.set(`${node.options.host}:${node.options.port}`, keys.length);
      }
      expect(owners.size).toBe(1);
      expect([...owners.values()][0]).toBeGreaterThan(0);
    } finally {
      probe.disconnect();
    }
    // The login rate limiter counts in the cluster too: the sixth bad password for one email is refused.
    const bad = apiClient(instanceA);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        await bad.login(alice.email, "wrong-password").then(
          () => 200,
          (error: { status?: number }) => error.status ?? 0,
        ),
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it(`with replicas: every order settles and every invariant holds when the queues' master is SIGKILLed mid-run`, async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    const reconcileAfterMs = 3_000;
    system = await startSystem({
      webInstances: 2,
      redisClusterNodes: cluster.nodesEnv,
      env: { ...NO_SINGLE_REDIS, RECONCILE_AFTER_MS: String(reconcileAfterMs) },
    });
    const sys = system;
    const theCluster = cluster;
    // The master holding every BullMQ key (one hash slot): the worst one to lose.
    const victim = await theCluster.masterOf(`{${sys.redisPrefix}}:bull`);
    const mastersBefore = await theCluster.livingMasters();
    expect(mastersBefore).toHaveLength(3);

    const shoppers = await createShoppers(sys.webUrls, SHOPPERS, 51);
    let killedAt = 0;
    let killed: Promise<unknown> = Promise.resolve();
    await placeOrders(shoppers, ORDERS, {
      seed: 52,
      onProgress: (done) => {
        if (done !== Math.floor(ORDERS / 3)) return;
        killed = victim.process.stop("SIGKILL").then(() => (killedAt = Date.now()));
      },
    });
    await killed;
    expect(killedAt).toBeGreaterThan(0);
    // A replica took over: three masters again, the dead one not among them.
    const mastersAfter = await waitFor(
      async () => {
        const found = await theCluster.livingMasters();
        return found.length === 3 ? found : null;
      },
      { timeoutMs: 30_000, what: "a replica to take over the dead master" },
    );
    expect(mastersAfter).not.toContain(victim.port);
    await theCluster.waitUntilHealthy();

    const lastCreatedAt = Date.now();
    const settledAt = await waitUntilSettled(sys.dbs.urls, ORDERS, 120_000);
    const result = await audit(sys.dbs.urls);
    console.log(
      `cluster failover: settled ${settledAt - killedAt} ms after the SIGKILL (${settledAt - lastCreatedAt} ms after the last order)`,
      result.orders,
    );
    expectHealthy(result);
    const ready = await fetch(`${sys.webUrls[0]}/api/ready`);
    expect(ready.status).toBe(200);
  });

  it("without a replica: while the queues' master is down the relay parks nothing, though other nodes answer PING", async () => {
    const started = await startRedisCluster({ masters: 3 });
    cluster = started;
    const dbs = await createTestDatabases("relaycluster");
    const db = createSqlPool(dbs.urls.payments);
    const prisma = createPaymentsClient(db.pool);
    const nodes = started.nodes.map((node) => ({ host: "127.0.0.1", port: node.port, tls: false }));
    const connection = createProducerConnection({ REDIS_URL: "", REDIS_CLUSTER_NODES: nodes }, "relay");
    connection.on("error", () => {});
    const prefix = "{relaycluster}:bull";
    const relay = createOutboxRelay({
      db: prisma,
      databaseUrl: dbs.urls.payments,
      connection,
      prefix,
      signingKey: testSigningKey,
      log: createLogger("relay-cluster-test", "silent"),
      pollMs: 60_000,
      addTimeoutMs: 500,
      maxFailures: 2,
    });
    try {
      const message = buildMessage("PaymentRequested", {
        orderId: crypto.randomUUID(),
        userId: crypto.randomUUID(),
        amount: 1,
      });
      await writeOutbox(db, message);
      await (await started.masterOf(prefix)).process.stop("SIGKILL");
      expect(await connection.ping()).toBe("PONG"); // what the relay used to ask
      for (let pass = 0; pass < 3; pass++) {
        expect(await relay.relayOnce()).toMatchObject({ claimed: 1, sent: 0, parked: 0, redisFailed: true });
      }
      const [row] = await db.$queryRaw<{ failures: number; parked: boolean }[]>`
        SELECT failures, parked_at IS NOT NULL AS parked FROM outbox WHERE id = ${message.messageId}::uuid`;
      expect(row).toEqual({ failures: 0, parked: false });
    } finally {
      await relay.stop();
      connection.disconnect();
      await prisma.$disconnect();
      await db.$disconnect();
      await dbs.drop();
    }
  });
});
