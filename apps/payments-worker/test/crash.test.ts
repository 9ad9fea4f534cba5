// The worker process killed with SIGKILL after its statement commits and before it publishes the result,
// and a relay killed after `add`: after a restart every payment is decided exactly once and its result is
// delivered. (Killed in the middle of its statement: group-crash.test.ts.)
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startProcess, waitFor } from "@gozon/core/testing";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { buildMessage } from "@gozon/messaging/contracts";
import { writeOutbox } from "@gozon/messaging/outbox";
import { TEST_MESSAGE_SIGNING_KEY } from "@gozon/messaging/testing";
import {
  accountWith,
  balanceOf,
  createHarness,
  debitsFor,
  decisionFor,
  REDIS_URL,
  workerDir,
  type Harness,
} from "./harness.ts";

let h: Harness;
let ordersDb: SqlPool;

beforeAll(async () => {
  h = await createHarness("pw-crash");
  ordersDb = createSqlPool(h.dbs.urls.orders);
});

afterAll(async () => {
  await ordersDb?.$disconnect();
  await h?.close();
});

async function inboxEntry(messageId: string) {
  const [row] = await h.db.$queryRaw<{ processed: boolean }[]>`
    SELECT processed_at IS NOT NULL AS processed FROM inbox WHERE message_id = ${messageId}::uuid`;
  return row;
}

it("killed after its statement commits, before the result goes out: after a restart, exactly one debit and the result delivered", async () => {
  const failpoint = "after-process";
  const userId = await accountWith(h.db, 1_000);
  const message = buildMessage("PaymentRequested", { orderId: randomUUID(), userId, amount: 300 });
  const { orderId } = message.payload;

  const doomed = h.startWorker({ GOZON_FAILPOINTS: failpoint });
  await doomed.waitForOutput(/payments worker ready/);
  await h.send(message);
  expect(await doomed.exited).toBe("SIGKILL");
  expect(doomed.output()).toContain(`failpoint ${failpoint}: SIGKILL`);

  // What the crash left behind.
  expect(await inboxEntry(message.messageId)).toEqual({ processed: true });
  expect(await decisionFor(h.db, orderId)).toEqual({ outcome: "SUCCEEDED", reason: null });
  expect(await balanceOf(h.db, userId)).toBe(700);

  const t0 = Date.now();
  const restarted = h.startWorker();
  try {
    await restarted.waitForOutput(/payments worker ready/);
    const [result] = await waitFor(
      () => (h.resultsFor(orderId).length > 0 ? h.resultsFor(orderId) : undefined),
      {
        what: "the result on orders.payment-results",
      },
    );
    console.log(`${failpoint}: result delivered ${Date.now() - t0} ms after the restart`);
    expect(result).toMatchObject({ type: "PaymentSucceeded", payload: message.payload });
    expect(await debitsFor(h.db, orderId)).toBe(1);
    expect(await balanceOf(h.db, userId)).toBe(700);
    expect(await inboxEntry(message.messageId)).toEqual({ processed: true });
  } finally {
    expect(await restarted.stop()).toBe(0);
  }
});

it("a relay killed after add and before marking sent: the message arrives twice, the payment happens once", async () => {
  const userId = await accountWith(h.db, 1_000);
  // The orders side's part 1: the request is in the orders outbox.
  const message = buildMessage("PaymentRequested", { orderId: randomUUID(), userId, amount: 400 });
  await writeOutbox(ordersDb, message);
  const relayOnce = (failpoints = "") =>
    startProcess(
      "node",
      [
        "--import",
        "tsx",
        // The messaging package's relay fixture, on the orders database.
        path.join("../../packages/messaging/test/fixtures/relay-once.ts"),
        "orders",
        h.dbs.urls.orders,
        REDIS_URL,
        h.prefix,
      ],
      {
        cwd: workerDir,
        env: { ...process.env, GOZON_FAILPOINTS: failpoints, MESSAGE_SIGNING_KEY: TEST_MESSAGE_SIGNING_KEY },
      },
    );
  const unsent = async () =>
    (await ordersDb.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL`)[0]!.n;

  const crashed = relayOnce("relay-after-add");
  expect(await crashed.exited).toBe("SIGKILL");
  expect(await unsent()).toBe(1n);

  const worker = h.startWorker();
  try {
    await worker.waitForOutput(/payments worker ready/);
    const first = await waitFor(
      async () => {
        const job = await h.requests.getJob(message.messageId);
        return job?.returnvalue ? job : undefined;
      },
      { what: "the first delivery to be processed" },
    );
    expect(first.returnvalue).toEqual({ stored: true, status: "decided" });

    // Once BullMQ no longer keeps the finished job (its retention ran out), a re-add is a new delivery.
    await h.requests.remove(message.messageId);
    const again = relayOnce();
    expect(await again.exited).toBe(0);
    expect(again.output()).toContain('"sent":1');
    expect(await unsent()).toBe(0n);

    const second = await waitFor(
      async () => {
        const job = await h.requests.getJob(message.messageId);
        return job?.returnvalue ? job : undefined;
      },
      { what: "the second delivery to be processed" },
    );
    expect(second.returnvalue).toEqual({ stored: false, status: "already-processed" });
    await worker.waitForOutput(new RegExp(`"messageId":"${message.messageId}".*duplicate message dropped`));

    expect(await debitsFor(h.db, message.payload.orderId)).toBe(1);
    expect(await balanceOf(h.db, userId)).toBe(600);
    await waitFor(() => h.resultsFor(message.payload.orderId).length === 1, { what: "the result" });
  } finally {
    expect(await worker.stop()).toBe(0);
  }
});
