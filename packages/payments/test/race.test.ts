// 1,000 concurrent operations on one account through the real functions: no lost update, no overdraft.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { SqlPool } from "@gozon/db/sql-client";
import { buildMessage } from "@gozon/messaging/contracts";
import { createAccount, topUp } from "../src/accounts.ts";
import { receivePaymentRequest } from "../src/process-payment.ts";
import { balanceOf, ledgerOf, log, paymentsDatabase } from "./helpers.ts";

let db: SqlPool;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, close } = await paymentsDatabase("race"));
});
afterAll(async () => {
  await close?.();
});

/** A small seeded generator, so a failing run can be replayed with the seed it prints. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Op = { kind: "topUp" | "debit"; amount: number };

it("1,000 concurrent top-ups and order debits on one account: exact final balance, never negative, balance == sum(ledger)", async () => {
  const seed = Number(process.env.RACE_SEED ?? Date.now() % 1_000_000);
  const next = random(seed);
  const ops: Op[] = Array.from({ length: 1_000 }, () =>
    next() < 0.5
      ? { kind: "topUp", amount: 1 + Math.floor(next() * 10_000) }
      : { kind: "debit", amount: 1 + Math.floor(next() * 15_000) },
  );
  const userId = randomUUID();
  await createAccount(db, userId);

  let toppedUp = 0;
  let debited = 0;
  let succeeded = 0;
  let failed = 0;
  const run = async (op: Op) => {
    if (op.kind === "topUp") {
      await topUp(db, userId, op.amount);
      toppedUp += op.amount;
      return;
    }
    const message = buildMessage("PaymentRequested", { orderId: randomUUID(), userId, amount: op.amount });
    const { outcome } = await receivePaymentRequest(db, message, log);
    if (outcome.status !== "decided") throw new Error(`unexpected ${outcome.status}`);
    if (outcome.result.type === "PaymentSucceeded") {
      succeeded++;
      debited += op.amount;
    } else {
      expect(outcome.result.payload.reason).toBe("INSUFFICIENT_FUNDS");
      failed++;
    }
  };

  // Watches the balance while the operations run (the CHECK constraint makes a negative one impossible).
  let running = true;
  let samples = 0;
  let lowest = Number.POSITIVE_INFINITY;
  const watcher = (async () => {
    while (running) {
      lowest = Math.min(lowest, (await balanceOf(db, userId))!);
      samples++;
    }
  })();

  const t0 = Date.now();
  let cursor = 0;
  const inFlight = 50;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (cursor < ops.length) await run(ops[cursor++]!);
    }),
  ).finally(() => (running = false));
  await watcher;
  const elapsed = Date.now() - t0;

  const balance = (await balanceOf(db, userId))!;
  const ledger = await ledgerOf(db, userId);
  let runningSum = 0;
  let lowestRunningSum = 0;
  for (const entry of ledger) {
    runningSum += entry.amount;
    lowestRunningSum = Math.min(lowestRunningSum, runningSum);
  }
  console.log(
    `seed ${seed}: ${ops.length} ops (${inFlight} in flight) in ${elapsed} ms; ` +
      `top-ups ${toppedUp}, debits ${succeeded} succeeded (${debited}) / ${failed} insufficient; ` +
      `final balance ${balance}; ${samples} balance samples, lowest ${lowest}`,
  );

  expect(succeeded + failed + ops.filter((op) => op.kind === "topUp").length).toBe(1_000);
  expect(balance).toBe(toppedUp - debited);
  expect(runningSum).toBe(balance);
  expect(lowestRunningSum).toBeGreaterThanOrEqual(0);
  expect(lowest).toBeGreaterThanOrEqual(0);
  expect(ledger.filter((e) => e.kind === "ORDER_DEBIT")).toHaveLength(succeeded);
  expect(succeeded).toBeGreaterThan(0);
  expect(failed).toBeGreaterThan(0); // the mix really did hit the overdraft guard
});
