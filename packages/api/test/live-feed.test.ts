// The live feed against the real order change log, Redis pub/sub and the real position assigner: resume
// however far behind, changes committed late, a subscriber connection cut over and over, and the first
// subscription of a page that has just listed its orders. Each change arrives once, in position order.
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpProxy } from "@gozon/core/testing";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { buildMessage } from "@gozon/messaging/contracts";
import { messageKey, signedText } from "@gozon/messaging/signing";
import { testSigningKey } from "@gozon/messaging/testing";
import { createOrder } from "@gozon/orders/create-order";
import { logBounds, purgeOrderLog } from "@gozon/orders/order-log";
import { startPositionAssigner } from "@gozon/orders/position-assigner";
import { listOrders } from "@gozon/orders/read-orders";
import { settleAndAnnounce } from "@gozon/orders/settle-order";
import { orderEventsChannel } from "@gozon/orders/order-events";
import { createOrderEventBus, type OrderEventBus } from "../src/live/order-event-bus.ts";
import { orderFeed, type FeedItem, type FeedScope } from "../src/live/order-feed.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const log = pino({ level: "silent" });

let dbs: TestDatabases;
let db: SqlPool;
let publisher: Redis;
let redisPrefix: string;
let assigner: ReturnType<typeof startPositionAssigner>;
const closers: (() => Promise<unknown>)[] = [];

/** The orders worker's position assigner on the test's database: polling every second unless told. */
const startAssigner = (
  opts: { pollMs?: number; publisher?: Parameters<typeof startPositionAssigner>[0]["publisher"] } = {},
) =>
  startPositionAssigner({
    db,
    databaseUrl: dbs.urls.orders,
    publisher: opts.publisher ?? publisher,
    redisPrefix,
    signingKey: testSigningKey,
    log,
    pollMs: opts.pollMs ?? 1_000,
  });

beforeAll(async () => {
  dbs = await createTestDatabases("feed");
  db = createSqlPool(dbs.urls.orders);
  publisher = new Redis(REDIS_URL);
  redisPrefix = `gozon_test_feed_${randomBytes(6).toString("hex")}`;
  assigner = startAssigner();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await assigner?.stop();
  publisher?.disconnect();
  await db?.$disconnect();
  await dbs?.drop();
});

/** A web process's bus; `pollMs` high by default so that healing is shown to come from elsewhere. */
async function openBus(pollMs = 600_000): Promise<OrderEventBus> {
  const bus = createOrderEventBus({
    redis: REDIS_URL,
    redisPrefix,
    signingKey: testSigningKey,
    db,
    log,
    pollMs,
  });
  closers.push(() => bus.close());
  await bus.ready;
  return bus;
}

/** A subscription as a page holds one: every item it yields, until closed. */
function follow(bus: OrderEventBus, scope: FeedScope, lastEventId?: string) {
  const items: FeedItem[] = [];
  const abort = new AbortController();
  let failure: unknown;
  const done = (async () => {
    for await (const item of orderFeed(bus, db, scope, lastEventId, abort.signal)) items.push(item);
  })().catch((error: unknown) => (failure = error));
  const close = async () => {
    abort.abort();
    await done;
  };
  closers.push(close);
  return {
    items,
    close,
    failure: () => failure,
    /** The last state seen of each order. */
    finalStates: () => {
      const states = new Map<string, string>();
      for (const item of items) if (!("reset" in item)) states.set(item.orderId, item.status);
      return states;
    },
  };
}

const place = (userId: string, description = "feed") => createOrder(db, { userId, amount: 100, description });
/** What the orders worker does with a payment result: settle, then announce. */
const settle = async (orderId: string, userId: string) => {
  const { outcomes, announced } = await settleAndAnnounce(
    db,
    { publisher, redisPrefix, signingKey: testSigningKey, log },
    [buildMessage("PaymentSucceeded", { orderId, userId, amount: 100 })],
  );
  await announced;
  return outcomes;
};

/** Resolves once every change written so far has its position. */
async function allPositioned() {
  await expect
    .poll(
      async () => {
        const [row] = await db.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM order_changes WHERE position IS NULL`;
        return Number(row!.n);
      },
      { timeout: 20_000 },
    )
    .toBe(0);
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

const positionsOf = (items: FeedItem[]) => items.map((item) => item.position);
const consecutive = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe("live feed", () => {
  it("replays 5,000 changes missed while away: each once, in position order, then goes live", async () => {
    const bus = await openBus();
    await allPositioned();
    const left = (await logBounds(db)).last;
    const shoppers = Array.from({ length: 5 }, () => randomUUID());
    const placed: { id: string; userId: string }[] = [];
    await inBatches(
      Array.from({ length: 2_500 }, (_, i) => shoppers[i % 5]!),
      25,
      async (userId) => placed.push({ id: (await place(userId)).id, userId }),
    );
    await inBatches(placed, 25, (order) => settle(order.id, order.userId));
    await allPositioned();

    const admin = follow(bus, { all: true, recent: 50 }, String(left));
    const shopper = follow(bus, { userId: shoppers[0]! }, String(left));
    await expect.poll(() => admin.items.length, { timeout: 30_000 }).toBe(5_000);
    expect(positionsOf(admin.items)).toEqual(consecutive(left + 1, 5_000));
    expect([...admin.finalStates().values()].every((status) => status === "FINISHED")).toBe(true);
    expect(admin.finalStates().size).toBe(2_500);

    await expect.poll(() => shopper.items.length, { timeout: 30_000 }).toBe(1_000);
    const shopperPositions = positionsOf(shopper.items);
    expect(shopperPositions).toEqual([...new Set(shopperPositions)].sort((a, b) => a - b));
    expect(shopper.items.every((item) => !("reset" in item) && item.userId === shoppers[0])).toBe(true);

    // Then live, without a hole between the replay and the live events.
    const next = await place(shoppers[0]!);
    await expect.poll(() => shopper.items.at(-1)?.position, { timeout: 10_000 }).toBe(left + 5_001);
    expect((shopper.items.at(-1) as { orderId: string }).orderId).toBe(next.id);
    expect(admin.items.at(-1)?.position).toBe(left + 5_001);
  }, 180_000);

  it("delivers a change whose transaction commits after later ones, live and on resume", async () => {
    const bus = await openBus();
    await allPositioned();
    const userId = randomUUID();
    const live = follow(bus, { userId });
    const late = new pg.Client({ connectionString: dbs.urls.orders });
    await late.connect();
    closers.push(() => late.end());
    const lateOrderId = randomUUID();
    await late.query("BEGIN");
    await late.query(
      `INSERT INTO orders (id, user_id, amount, description, updated_at) VALUES ($1, $2, 100, 'late', now())`,
      [lateOrderId, userId],
    );
    await late.query(`INSERT INTO order_changes (order_id, user_id, status) VALUES ($1, $2, 'NEW')`, [
      lateOrderId,
      userId,
    ]);
    const first = await place(userId, "first");
    await expect.poll(() => live.items.length, { timeout: 10_000 }).toBe(1);
    const seen = live.items[0]!.position;

    await late.query("COMMIT");
    await expect.poll(() => live.items.length, { timeout: 10_000 }).toBe(2);
    expect(live.items.map((i) => ("reset" in i ? null : i.orderId))).toEqual([first.id, lateOrderId]);

    const resumed = follow(bus, { userId }, String(seen));
    await expect.poll(() => resumed.items.length, { timeout: 10_000 }).toBe(1);
    expect(resumed.items[0]).toMatchObject({ orderId: lateOrderId, position: seen + 1 });
  });

  it("heals its subscriber connection being killed every 30 ms for 2 s, without the client reconnecting", async () => {
    const bus = await openBus();
    await allPositioned();
    const shoppers = [randomUUID(), randomUUID()];
    const feeds = [
      follow(bus, { userId: shoppers[0]! }),
      follow(bus, { userId: shoppers[1]! }),
      follow(bus, { all: true, recent: 0 }),
    ];
    const admin = new Redis(REDIS_URL);
    closers.push(async () => admin.disconnect());
    const name = `${redisPrefix}:web-order-events`;
    let kills = 0;
    const killing = (async () => {
      const until = Date.now() + 2_000;
      while (Date.now() < until) {
        const clients = String(await admin.call("CLIENT", "LIST", "TYPE", "pubsub"));
        for (const line of clients.split("\n")) {
          const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
          if (id && line.includes(` name=${name} `)) {
            await admin.call("CLIENT", "KILL", "ID", id);
            kills++;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    })();
    const placed: { id: string; userId: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const userId = shoppers[i % 2]!;
      const order = await place(userId, `cut ${i}`);
      placed.push({ id: order.id, userId });
      await settle(order.id, userId);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await killing;
    expect(kills).toBeGreaterThan(10);

    const deadline = Date.now() + 5_000;
    for (const [index, feed] of feeds.entries()) {
      const expected = placed.filter((o) => index === 2 || o.userId === shoppers[index]);
      await expect
        .poll(() => expected.every((o) => feed.finalStates().get(o.id) === "FINISHED"), {
          timeout: Math.max(0, deadline - Date.now()),
        })
        .toBe(true);
      const positions = positionsOf(feed.items);
      expect(positions).toEqual([...new Set(positions)].sort((a, b) => a - b));
      expect(feed.failure()).toBeUndefined();
    }
  }, 30_000);

  it("a page that lists its orders and then subscribes sees a settle that fell in between", async () => {
    const bus = await openBus();
    const userId = randomUUID();
    const order = await place(userId);
    await allPositioned();
    // What orders.list does: the position first, then the page.
    const { last: position } = await logBounds(db);
    const page = await listOrders(db, userId, { limit: 20 });
    expect(page.orders[0]).toMatchObject({ id: order.id, status: "NEW" });
    await settle(order.id, userId);
    await allPositioned();
    await expect.poll(() => bus.head, { timeout: 10_000 }).toBeGreaterThan(position);

    const feed = follow(bus, { userId }, String(position));
    await expect.poll(() => feed.finalStates().get(order.id), { timeout: 10_000 }).toBe("FINISHED");
    expect(feed.items).toHaveLength(1);
  });

  it("tells a client whose position was purged, or never handed out, to reset", async () => {
    const bus = await openBus();
    const userId = randomUUID();
    await place(userId);
    await place(userId);
    await allPositioned();
    const { last } = await logBounds(db);
    const beyond = follow(bus, { userId }, String(last + 1_000));
    await expect.poll(() => beyond.items[0], { timeout: 10_000 }).toEqual({ reset: true, position: last });

    await db.$executeRaw`UPDATE order_changes SET at = now() - interval '400 days'`;
    await purgeOrderLog(db, 365);
    const stale = follow(bus, { userId }, "1");
    await expect.poll(() => stale.items[0], { timeout: 10_000 }).toEqual({ reset: true, position: last });
    // And it goes on live from there.
    const next = await place(userId);
    await expect
      .poll(() => stale.items.at(-1), { timeout: 10_000 })
      .toMatchObject({ orderId: next.id, position: last + 1 });
  });

  it("a forged event on the channel never reaches a feed; the real change at its position still does", async () => {
    // Anyone who can write to Redis can publish on the channel: they take the next position first.
    await allPositioned();
    await assigner.stop();
    try {
      const bus = await openBus();
      const userId = randomUUID();
      const feed = follow(bus, { userId });
      const order = await place(userId);
      const next = bus.head + 1;
      const forged = {
        position: next,
        orderId: order.id,
        userId,
        status: "FINISHED" as const,
        reason: null,
        amount: 1,
        description: "forged",
        occurredAt: new Date().toISOString(),
      };
      const envelope = buildMessage("OrderStatusChanged", forged);
      const channel = orderEventsChannel(redisPrefix);
      const sneaky = (text: string) => publisher.publish(channel, text);
      await sneaky(JSON.stringify(envelope)); // unsigned
      await sneaky(signedText(messageKey("another-system-key-".repeat(3)), envelope)); // another key
      // Signed by this system, but over another event: the fields were changed after signing.
      const genuine = JSON.parse(
        signedText(testSigningKey, { ...envelope, payload: { ...forged, position: 9e9 } }),
      );
      await sneaky(JSON.stringify({ ...genuine, payload: forged }));

      // The real change at that position: the order's creation, stamped and announced by the assigner.
      const announcing = startAssigner({ pollMs: 600_000 });
      closers.push(() => announcing.stop());
      await announcing.run();
      await expect.poll(() => feed.items.length, { timeout: 10_000 }).toBe(1);
      expect(feed.items[0]).toMatchObject({ position: next, orderId: order.id, status: "NEW", amount: 100 });
      expect(feed.items.some((item) => "description" in item && item.description === "forged")).toBe(false);
      expect(bus.head).toBe(next);
    } finally {
      assigner = startAssigner();
    }
  });

  it("serves from the log while Redis does not answer at its start, and goes live once it does", async () => {
    const userId = randomUUID();
    await allPositioned();
    const { last: from } = await logBounds(db);
    const first = await place(userId, "before");
    await allPositioned();
    const orders = () => feed.items.map((item) => ("reset" in item ? "reset" : item.orderId));
    // Redis out of reach at the bus's start: its address refuses connections until restored.
    const redisAddress = new URL(REDIS_URL);
    const proxy = await startTcpProxy(redisAddress.hostname, Number(redisAddress.port || 6379));
    closers.push(() => proxy.close());
    await proxy.cut();
    const bus = createOrderEventBus({
      redis: proxy.route(REDIS_URL),
      redisPrefix,
      signingKey: testSigningKey,
      db,
      log,
      pollMs: 100,
      subscribeWaitMs: 200,
    });
    closers.push(() => bus.close());
    await bus.ready;
    const feed = follow(bus, { userId }, String(from));
    await expect.poll(orders, { timeout: 10_000 }).toEqual([first.id]);
    const second = await place(userId, "while silent");
    await expect.poll(orders, { timeout: 10_000 }).toEqual([first.id, second.id]);
    await proxy.restore();
    await settle(second.id, userId);
    await expect.poll(() => feed.finalStates().get(second.id), { timeout: 10_000 }).toBe("FINISHED");
    expect(feed.failure()).toBeUndefined();
  });

  it("a change whose announcement was lost still reaches the feed, from the log", async () => {
    // The assigner commits positions, then its publish fails (Redis away for it alone).
    const silent = {
      pipeline: () => ({ publish: () => undefined, exec: () => Promise.reject(new Error("down")) }),
    };
    const muted = startAssigner({ pollMs: 600_000, publisher: silent });
    closers.push(() => muted.stop());
    await assigner.stop();
    try {
      const bus = await openBus(200);
      const userId = randomUUID();
      const feed = follow(bus, { userId });
      const order = await place(userId);
      await muted.run();
      await expect.poll(() => feed.finalStates().get(order.id), { timeout: 10_000 }).toBe("NEW");
    } finally {
      assigner = startAssigner();
    }
  });
});
