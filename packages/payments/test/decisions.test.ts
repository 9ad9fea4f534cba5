// The admin's payments list: decisions newest first, filtered by user and outcome, paged without skips.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlPool } from "@gozon/db/sql-client";
import { buildMessage } from "@gozon/messaging/contracts";
import { createAccount, topUp } from "../src/accounts.ts";
import { listDecisions, type DecisionPosition, type PaymentDecisionDto } from "../src/decisions.ts";
import { receivePaymentRequest } from "../src/process-payment.ts";
import { queryPlanOf } from "@gozon/db/testing";
import { log, paymentsDatabase } from "./helpers.ts";

let db: SqlPool;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, close } = await paymentsDatabase("decisions"));
});
afterAll(async () => {
  await close?.();
});

const pay = (userId: string, amount: number) =>
  receivePaymentRequest(db, buildMessage("PaymentRequested", { orderId: randomUUID(), userId, amount }), log);

type Filter = Omit<Parameters<typeof listDecisions>[1], "limit" | "before">;

async function allPages(filter: Filter, limit: number, between?: () => Promise<unknown>) {
  const seen: PaymentDecisionDto[] = [];
  let before: DecisionPosition | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await listDecisions(db, { ...filter, limit, before });
    expect(page.payments.length).toBeLessThanOrEqual(limit);
    seen.push(...page.payments);
    if (!page.hasMore) return seen;
    const last = page.payments.at(-1)!;
    before = { decidedAt: new Date(last.decidedAt), orderId: last.orderId };
    await between?.();
  }
  throw new Error("paging did not end");
}

const newestFirst = (a: PaymentDecisionDto, b: PaymentDecisionDto) =>
  b.decidedAt.localeCompare(a.decidedAt) || b.orderId.localeCompare(a.orderId);

describe("listDecisions", () => {
  it("lists decisions newest first with amount, outcome and reason; filters by user and outcome", async () => {
    const rich = randomUUID();
    const poor = randomUUID();
    await createAccount(db, rich);
    await createAccount(db, poor);
    await topUp(db, rich, 1_000);
    await pay(rich, 300);
    await pay(poor, 50); // insufficient funds
    await pay(randomUUID(), 70); // no account

    const richOnes = await allPages({ userId: rich }, 10);
    expect(richOnes).toEqual([
      {
        orderId: expect.any(String),
        userId: rich,
        amount: 300,
        outcome: "SUCCEEDED",
        reason: null,
        decidedAt: expect.any(String),
      },
    ]);
    expect((await allPages({ userId: poor }, 10)).map((p) => [p.outcome, p.reason])).toEqual([
      ["FAILED", "INSUFFICIENT_FUNDS"],
    ]);
    const failed = await allPages({ outcome: "FAILED" }, 10);
    expect(failed.every((p) => p.outcome === "FAILED")).toBe(true);
    expect(failed.map((p) => p.reason).sort()).toEqual(["INSUFFICIENT_FUNDS", "NO_ACCOUNT"]);
    expect(await allPages({ userId: poor, outcome: "SUCCEEDED" }, 10)).toEqual([]);
  });

  it("pages newest first with no decision skipped or repeated while new decisions are written", async () => {
    const userId = randomUUID();
    await createAccount(db, userId);
    await topUp(db, userId, 1_000_000);
    await Promise.all(Array.from({ length: 40 }, (_, i) => pay(userId, 1 + i)));
    const before = await allPages({ userId }, 100);
    expect(before).toHaveLength(40);

    const seen = await allPages({ userId }, 6, () => Promise.all([pay(userId, 5), pay(userId, 6)]));
    const ids = seen.map((p) => p.orderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(before.every((p) => ids.includes(p.orderId))).toBe(true);
    expect(seen).toEqual([...seen].sort(newestFirst));
  });

  it.each([
    ["unfiltered", {}, "payment_decisions_decided_at_order_id_idx"],
    ["by outcome", { outcome: "FAILED" }, "payment_decisions_outcome_decided_at_order_id_idx"],
    ["by user", { userId: randomUUID() }, "payment_decisions_user_id_decided_at_order_id_idx"],
  ] as const)("is served %s by an index in its order, without a sort", async (_, filter, index) => {
    const before = { decidedAt: new Date(), orderId: randomUUID() };
    for (const position of [null, before]) {
      const plan = await queryPlanOf(db, (explain) =>
        listDecisions(explain, { ...filter, limit: 20, before: position }),
      );
      expect(plan).toContain(index);
      expect(plan).not.toMatch(/Sort/);
    }
  });
});
