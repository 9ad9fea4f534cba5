// The position assigner's wake-ups against a real Postgres: a create notifies only when it begins a
// burst (no other change younger than 20 ms waits for a position), and the assigner, once woken, keeps
// running while its runs find changes, so the creates that did not notify are stamped all the same.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { createOrder } from "../src/create-order.ts";
import { assignPositions } from "../src/order-log.ts";
import { startPositionAssigner } from "../src/position-assigner.ts";
import { testSigningKey } from "@gozon/messaging/testing";

const CHANNEL = "gozon_order_changes";
let dbs: TestDatabases;
let db: SqlPool;
let listener: pg.Client;
const heard: string[] = [];

beforeAll(async () => {
  dbs = await createTestDatabases("assigner");
  db = createSqlPool(dbs.urls.orders);
  listener = new pg.Client({ connectionString: dbs.urls.orders });
  await listener.connect();
  listener.on("notification", (n) => heard.push(n.payload ?? ""));
  await listener.query(`LISTEN ${CHANNEL}`);
});
afterAll(async () => {
  await listener?.end();
  await db?.$disconnect();
  await dbs?.drop();
});

const place = () => createOrder(db, { userId: randomUUID(), amount: 100, description: "burst" });

/**
 * Notifications arrive in commit order: once a marker sent now has arrived, so has every notification
 * of what committed before it.
 */
async function heardEverythingSoFar() {
  const marker = randomUUID();
  await db.$executeRaw`SELECT pg_notify(${CHANNEL}, ${marker})`;
  await expect.poll(() => heard.includes(marker), { timeout: 10_000 }).toBe(true);
}

/** How many notifications the creates run by `act` sent. */
async function notificationsOf(act: () => Promise<unknown>): Promise<number> {
  await heardEverythingSoFar();
  heard.length = 0;
  await act();
  await heardEverythingSoFar();
  return heard.filter((payload) => payload === "").length;
}

async function stampAll() {
  while ((await assignPositions(db)).length > 0);
}

const position = async (orderId: string) =>
  (
    await db.$queryRaw<{ position: bigint | null }[]>`
      SELECT position FROM order_changes WHERE order_id = ${orderId}::uuid`
  )[0]?.position ?? null;

/** Moves an order's waiting change in time: `offset` is an SQL interval added to now. */
const waitingSince = (orderId: string, offset: string) =>
  db.$executeRaw`
    UPDATE order_changes SET at = now() + ${offset}::interval WHERE order_id = ${orderId}::uuid`;

describe("a create's wake-up of the position assigner", () => {
  it("notifies when nothing else waits for a position", async () => {
    await stampAll();
    expect(await notificationsOf(place)).toBe(1);
  });

  it("stays quiet while another change younger than 20 ms waits: the burst's first create notified", async () => {
    await stampAll();
    const first = await place();
    // However slow this machine, the first create stays "younger than 20 ms" for the second one.
    await waitingSince(first.id, "1 hour");
    expect(await notificationsOf(place)).toBe(0);
  });

  it("looks no further back than 1,000 ids, so the check stays a few index pages", async () => {
    await stampAll();
    const far = await place();
    await waitingSince(far.id, "1 hour");
    await db.$executeRaw`
      SELECT setval(pg_get_serial_sequence('order_changes', 'id'), (SELECT max(id) FROM order_changes) + 1000)`;
    expect(await notificationsOf(place)).toBe(1);
  });

  it("notifies again when the change still waiting is older than 20 ms", async () => {
    await stampAll();
    const stuck = await place();
    await waitingSince(stuck.id, "-1 second");
    expect(await notificationsOf(place)).toBe(1);
  });
});

/** An assigner with no fallback poll to speak of: only wake-ups and its own runs stamp. */
const startTestAssigner = (
  publisher: Parameters<typeof startPositionAssigner>[0]["publisher"],
  options: { batch?: number; delayMs: number },
) =>
  startPositionAssigner({
    db,
    databaseUrl: dbs.urls.orders,
    publisher,
    redisPrefix: `assigner-${randomUUID()}`,
    signingKey: testSigningKey,
    log: createLogger("assigner-test", "silent"),
    pollMs: 600_000,
    ...options,
  });

describe("the position assigner", () => {
  it("keeps running while its runs stamp changes: a create that sent no wake-up is stamped too", async () => {
    await stampAll();
    const published: string[] = [];
    const publisher = {
      pipeline: () => ({
        publish: (_channel: string, message: string) => void published.push(message),
        exec: () => Promise.resolve([]),
      }),
    };
    // No fallback poll to speak of, and no notifications: only the assigner's own runs can stamp.
    await db.$executeRaw`ALTER TABLE order_changes DISABLE TRIGGER order_changes_notify`;
    // Rounds a second apart: the second create surely commits between the first round and the next.
    const assigner = startTestAssigner(publisher, { delayMs: 1_000 });
    try {
      const first = await place();
      void assigner.run();
      await expect.poll(() => position(first.id), { timeout: 10_000, interval: 20 }).not.toBeNull();
      // Created after the run that stamped the first one, and nobody wakes the assigner for it.
      const second = await place();
      await expect.poll(() => position(second.id), { timeout: 10_000 }).not.toBeNull();
      expect(published).toHaveLength(2);
    } finally {
      await assigner.stop();
      await db.$executeRaw`ALTER TABLE order_changes ENABLE TRIGGER order_changes_notify`;
    }
  });

  it("stops after the batch in hand: a backlog is left to the next start, not drained into the shutdown", async () => {
    await stampAll();
    await db.$executeRaw`ALTER TABLE order_changes DISABLE TRIGGER order_changes_notify`;
    const orders = [];
    for (let i = 0; i < 5; i++) orders.push(await place());
    // The first batch's publish is held until the stop has been asked for.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let publishes = 0;
    const publisher = {
      pipeline: () => ({
        publish: () => undefined,
        exec: () => (publishes++ === 0 ? held : Promise.resolve()).then(() => []),
      }),
    };
    const assigner = startTestAssigner(publisher, { batch: 1, delayMs: 0 });
    try {
      void assigner.run();
      await expect.poll(() => publishes, { timeout: 10_000, interval: 10 }).toBe(1);
      const stopping = assigner.stop();
      release();
      await stopping;
      const stamped = await Promise.all(orders.map(({ id }) => position(id)));
      expect(stamped.filter((p) => p !== null)).toHaveLength(1);
    } finally {
      release();
      await assigner.stop();
      await db.$executeRaw`ALTER TABLE order_changes ENABLE TRIGGER order_changes_notify`;
      await stampAll();
    }
  });
});
