// The statement: balance_after written with each balance change, exact under concurrency, and paged
// newest first without skipping or repeating an entry.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlPool } from "@gozon/db/sql-client";
import { buildMessage } from "@gozon/messaging/contracts";
import { createAccount, topUp } from "../src/accounts.ts";
import { ledgerPage, type LedgerEntryDto } from "../src/ledger.ts";
import { receivePaymentRequest } from "../src/process-payment.ts";
import { queryPlanOf } from "@gozon/db/testing";
import { balanceOf, log, paymentsDatabase } from "./helpers.ts";

let db: SqlPool;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, close } = await paymentsDatabase("ledger"));
});
afterAll(async () => {
  await close?.();
});

const debit = (userId: string, amount: number, orderId: string = randomUUID()) =>
  receivePaymentRequest(db, buildMessage("PaymentRequested", { orderId, userId, amount }), log);

/** Every entry of the user, oldest first (commit order: an account's ids follow its row lock). */
async function entriesOf(userId: string) {
  const rows = await db.$queryRaw<{ id: bigint; amount: bigint; balanceAfter: bigint }[]>`
    SELECT id, amount, balance_after AS "balanceAfter" FROM ledger_entries
    WHERE user_id = ${userId}::uuid ORDER BY id`;
  return rows.map((row) => ({
    id: row.id,
    amount: Number(row.amount),
    balanceAfter: Number(row.balanceAfter),
  }));
}

/** Every page of the user's statement, from the first, `limit` at a time. */
async function allPages(userId: string, limit: number, between?: () => Promise<unknown>) {
  const seen: LedgerEntryDto[] = [];
  let beforeId: bigint | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await ledgerPage(db, userId, { limit, beforeId });
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    seen.push(...page.entries);
    if (!page.hasMore) return seen;
    beforeId = BigInt(page.entries.at(-1)!.id);
    await between?.();
  }
  throw new Error("paging did not end");
}

describe("balance_after", () => {
  it("top-ups and debits write the balance right after them; a failed debit writes nothing", async () => {
    const userId = randomUUID();
    await createAccount(db, userId);
    await topUp(db, userId, 1_000);
    const paid = randomUUID();
    await debit(userId, 400, paid);
    await debit(userId, 700); // insufficient: no entry
    await topUp(db, userId, 50);

    const { entries, hasMore } = await ledgerPage(db, userId, { limit: 10 });
    expect(hasMore).toBe(false);
    expect(entries).toEqual([
      {
        id: expect.any(String),
        kind: "TOP_UP",
        amount: 50,
        balanceAfter: 650,
        orderId: null,
        createdAt: expect.any(String),
      },
      {
        id: expect.any(String),
        kind: "ORDER_DEBIT",
        amount: -400,
        balanceAfter: 600,
        orderId: paid,
        createdAt: expect.any(String),
      },
      {
        id: expect.any(String),
        kind: "TOP_UP",
        amount: 1_000,
        balanceAfter: 1_000,
        orderId: null,
        createdAt: expect.any(String),
      },
    ]);
    expect(new Date(entries[0]!.createdAt).toISOString()).toBe(entries[0]!.createdAt);
  });

  it("200 concurrent top-ups and debits on one account: each balanceAfter is the running sum in commit order, the last is the balance", async () => {
    const userId = randomUUID();
    await createAccount(db, userId);
    await topUp(db, userId, 5_000);
    const ops = Array.from({ length: 200 }, (_, i) =>
      i % 2 === 0 ? () => topUp(db, userId, 100 + i) : () => debit(userId, 150 + i),
    );
    // All 200 at once: each waits for the account's row lock, so they really do contend.
    await Promise.all(ops.map((op) => op()));

    const entries = await entriesOf(userId);
    expect(entries.length).toBeGreaterThan(101); // the first top-up, 100 top-ups, and some debits
    let running = 0;
    const wrong: string[] = [];
    for (const entry of entries) {
      running += entry.amount;
      if (entry.balanceAfter !== running) wrong.push(`entry ${entry.id}: ${entry.balanceAfter} ≠ ${running}`);
    }
    expect(wrong).toEqual([]);
    expect(entries.at(-1)!.balanceAfter).toBe(await balanceOf(db, userId));

    // The statement shows the same numbers, newest first.
    const statement = await allPages(userId, 23);
    expect(statement.map((e) => [BigInt(e.id), e.amount, e.balanceAfter])).toEqual(
      entries.map((e) => [e.id, e.amount, e.balanceAfter]).reverse(),
    );
  });
});

describe("ledgerPage", () => {
  it("pages newest first with no entry skipped or repeated while new entries are written", async () => {
    const userId = randomUUID();
    await createAccount(db, userId);
    for (let i = 1; i <= 45; i++) await topUp(db, userId, i);
    const before = (await entriesOf(userId)).map((e) => e.id.toString());

    // Between pages, other changes of the account commit.
    const seen = await allPages(userId, 7, () => Promise.all([topUp(db, userId, 1_000), debit(userId, 3)]));

    const ids = seen.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length); // no duplicate
    expect(before.every((id) => ids.includes(id))).toBe(true); // nothing that existed was skipped
    const numeric = ids.map(BigInt);
    expect(numeric).toEqual([...numeric].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))); // newest first
  });

  it("shows only the user's own entries; an account-less user has an empty statement", async () => {
    const mine = randomUUID();
    const theirs = randomUUID();
    await createAccount(db, mine);
    await createAccount(db, theirs);
    await topUp(db, mine, 10);
    await topUp(db, theirs, 20);
    await debit(theirs, 5);
    const page = await ledgerPage(db, mine, { limit: 100 });
    expect(page.entries.map((e) => e.amount)).toEqual([10]);
    expect(await ledgerPage(db, randomUUID(), { limit: 100 })).toEqual({
      entries: [],
      hasMore: false,
      unknownCursor: false,
    });
    // Their entry as a cursor is not one of mine: an empty page that says so, never a page of mine.
    const [theirEntry] = (await ledgerPage(db, theirs, { limit: 1 })).entries;
    expect(await ledgerPage(db, mine, { limit: 100, beforeId: BigInt(theirEntry!.id) })).toEqual({
      entries: [],
      hasMore: false,
      unknownCursor: true,
    });
  });

  it("is served by the (user_id, id DESC) index, without a sort", async () => {
    for (const beforeId of [null, 1_000n]) {
      const plan = await queryPlanOf(db, (explain) =>
        ledgerPage(explain, randomUUID(), { limit: 20, beforeId }),
      );
      expect(plan).toContain("ledger_entries_user_id_id_idx");
      expect(plan).not.toMatch(/Sort/);
    }
  });
});
