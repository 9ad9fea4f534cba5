// Rotating MESSAGE_SIGNING_KEY on a running system, one process at a time, while orders keep coming: the
// README's three steps (accept the new key everywhere, sign with it everywhere, drop the old one). No
// message is refused on the way, so every order settles through its own messages: the reconciler, which
// would ask again for an order whose request or result was refused, is set to wait an hour.
import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { afterEach, expect, it, onTestFinished } from "vitest";
import { loadRedisTarget } from "@gozon/core/config";
import { waitFor } from "@gozon/core/testing";
import { bullPrefix, createRedisConnection, QUEUES } from "@gozon/messaging/queues";
import { TEST_MESSAGE_SIGNING_KEY } from "@gozon/messaging/testing";
import { signUp } from "../src/client.ts";
import { countOrders, queuesDrained } from "../src/invariants.ts";
import { redisVariables } from "../src/redis-target.ts";
import { startSystem, type PartName, type System } from "../src/system.ts";

const OLD_KEY = TEST_MESSAGE_SIGNING_KEY;
const NEW_KEY = randomBytes(32).toString("hex");
const PARTS: PartName[] = ["web-0", "orders-worker", "payments-worker"];
/** What a worker logs for a message it refuses (consume-requests.ts, consume-results.ts). */
const REFUSED = /poison (message|payment result)/;

let system: System | undefined;

afterEach(async (context) => {
  if (context.task.result?.state === "fail" && system) console.error(system.output().slice(-20_000));
  await system?.stop();
  system = undefined;
});

it("changes the signing key one process at a time under load, refusing no message and losing no order", async () => {
  system = await startSystem({ env: { RECONCILE_AFTER_MS: "3600000" } });
  const sys = system;
  // The parts' Redis, as they reach it, for a look at the queues.
  const target = loadRedisTarget(redisVariables());
  const redis = createRedisConnection(target);
  onTestFinished(() => void redis.quit());
  const prefix = bullPrefix({ ...target, REDIS_PREFIX: sys.redisPrefix });
  const web = sys.webUrls[0] as string;
  const shopper = await signUp(web, "rotation");
  await shopper.api.createAccount();
  await shopper.api.topUp(1_000_000);

  // A steady stream of orders through every restart: some are in the queues when a process goes.
  const made: string[] = [];
  let placing = true;
  /** While set, the stream waits for it before its next order. */
  let held: Promise<void> | null = null;
  let holding = false;
  const stream = (async () => {
    while (placing) {
      if (held) {
        holding = true;
        await held;
        holding = false;
      }
      // Counted once made: while the web instance restarts, creates fail and cross nothing.
      const order = await shopper.api.createOrder(100, "during the rotation").then(
        (created) => created.order.id,
        () => null,
      );
      if (order) made.push(order);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const rollOut = async (parts: PartName[], env: Record<string, string>) => {
    for (const part of parts) {
      const before = made.length;
      await sys.restart(part, env);
      // Orders cross the half-changed system before the next process goes.
      await waitFor(() => made.length >= before + 10, { timeoutMs: 60_000, what: "orders after a restart" });
    }
  };
  await rollOut(PARTS, { MESSAGE_SIGNING_KEYS_ACCEPTED: NEW_KEY });
  await rollOut([...PARTS].reverse(), {
    MESSAGE_SIGNING_KEY: NEW_KEY,
    MESSAGE_SIGNING_KEYS_ACCEPTED: OLD_KEY,
  });
  // As the README asks before step 3: nothing left in the queues from before step 2. The stream holds
  // while they drain: a SIGKILLed worker's jobs in hand wait for BullMQ's stalled check, which every
  // restart of that worker starts over, and such a job signed under the old key must not reach a worker
  // that no longer accepts it.
  let resume = () => {};
  held = new Promise<void>((resolve) => (resume = resolve));
  await waitFor(() => holding, { what: "the stream to hold" });
  const queues = Object.values(QUEUES).map((name) => new Queue(name, { connection: redis, prefix }));
  try {
    await waitFor(async () => (await countOrders(sys.dbs.urls)).NEW === 0 && (await queuesDrained(queues)), {
      timeoutMs: 60_000,
      what: "the queues drained of what was sent before step 2",
    });
  } finally {
    await Promise.all(queues.map((queue) => queue.close()));
  }
  held = null;
  resume();
  await rollOut(PARTS, { MESSAGE_SIGNING_KEYS_ACCEPTED: "" });
  placing = false;
  await stream;

  const before = await countOrders(sys.dbs.urls);
  const created = before.NEW + before.FINISHED + before.CANCELLED;
  expect(created).toBeGreaterThanOrEqual(90);
  await waitFor(
    async () => {
      const counts = await countOrders(sys.dbs.urls);
      return counts.NEW === 0 && counts.FINISHED === created;
    },
    { timeoutMs: 60_000, what: `all ${created} orders paid without the reconciler` },
  );
  expect(sys.output()).not.toMatch(REFUSED);

  // The same check sees a step taken out of turn: a payments worker back on the old key alone refuses
  // what the others now sign, and the order waits for the reconciler.
  await sys.restart("payments-worker", { MESSAGE_SIGNING_KEY: OLD_KEY });
  const { order } = await shopper.api.createOrder(100, "after a step out of turn");
  await waitFor(() => REFUSED.test(sys.output()), { timeoutMs: 30_000, what: "the request refused" });
  expect((await shopper.api.getOrder(order.id)).order.status).toBe("NEW");
});
