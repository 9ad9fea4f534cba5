import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlPool } from "@gozon/db/sql-client";
import {
  AccountExists,
  AccountNotFound,
  createAccount,
  getAccount,
  getAccounts,
  BalanceLimitReached,
  InvalidAmount,
  MAX_BALANCE,
  topUp,
} from "../src/accounts.ts";
import { IdempotencyKeyReused, type IdempotencyKeyInput } from "@gozon/db/idempotency";
import { balanceOf, ledgerOf, paymentsDatabase } from "./helpers.ts";

let db: SqlPool;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, close } = await paymentsDatabase("accounts"));
});
afterAll(async () => {
  await close?.();
});

describe("createAccount / getAccount", () => {
  it("opens one account per user, with balance 0; a second call is AccountExists", async () => {
    const userId = randomUUID();
    expect(await getAccount(db, userId)).toBeNull();
    expect(await createAccount(db, userId)).toEqual({ userId, balance: 0 });
    await expect(createAccount(db, userId)).rejects.toBeInstanceOf(AccountExists);
    expect(await getAccount(db, userId)).toEqual({ userId, balance: 0 });
  });

  it("under a race of 20 concurrent calls exactly one succeeds and 19 are AccountExists", async () => {
    const userId = randomUUID();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => createAccount(db, userId)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.filter((r) => r.status === "rejected");
    expect(rejected).toHaveLength(19);
    expect(rejected.every((r) => r.reason instanceof AccountExists)).toBe(true);
  });

  it("getAccounts returns the accounts that exist", async () => {
    const [a, b, none] = [randomUUID(), randomUUID(), randomUUID()];
    await createAccount(db, a);
    await createAccount(db, b);
    await topUp(db, b, 5);
    const accounts = await getAccounts(db, [a, b, none]);
    expect([...accounts.values()]).toEqual(
      expect.arrayContaining([
        { userId: a, balance: 0 },
        { userId: b, balance: 5 },
      ]),
    );
    expect(accounts.has(none)).toBe(false);
    expect((await getAccounts(db, [])).size).toBe(0);
  });
});

describe("topUp", () => {
  it("adds to the balance and writes one TOP_UP ledger entry per call", async () => {
    const userId = randomUUID();
    await createAccount(db, userId);
    expect((await topUp(db, userId, 1_000_000_000)).account).toEqual({ userId, balance: 1_000_000_000 });
    expect((await topUp(db, userId, 1)).account).toEqual({ userId, balance: 1_000_000_001 });
    expect(await ledgerOf(db, userId)).toEqual([
      { kind: "TOP_UP", amount: 1_000_000_000, orderId: null },
      { kind: "TOP_UP", amount: 1, orderId: null },
    ]);
  });

  it("is AccountNotFound without an account, and writes nothing", async () => {
    const userId = randomUUID();
    await expect(topUp(db, userId, 10)).rejects.toBeInstanceOf(AccountNotFound);
    expect(await ledgerOf(db, userId)).toEqual([]);
  });

  it("stops short of the largest balance a client reads exactly: BalanceLimitReached, nothing written", async () => {
    const userId = randomUUID();
    await createAccount(db, userId);
    // As if reached by millions of top-ups (the ledger's own checks do not look at the sum).
    await db.$executeRaw`UPDATE accounts SET balance = ${BigInt(MAX_BALANCE) - 10n} WHERE user_id = ${userId}::uuid`;
    await expect(topUp(db, userId, 11)).rejects.toBeInstanceOf(BalanceLimitReached);
    await expect(topUp(db, userId, 1_000_000_000)).rejects.toBeInstanceOf(BalanceLimitReached);
    expect(await balanceOf(db, userId)).toBe(MAX_BALANCE - 10);
    expect(await ledgerOf(db, userId)).toEqual([]);
    // Up to the limit itself is fine.
    expect((await topUp(db, userId, 10)).account).toEqual({ userId, balance: MAX_BALANCE });
  });

  it.each([0, -1, 1.5, 1_000_000_001, 1e12, Number.NaN, "10" as unknown as number])(
    "rejects amount %s without touching the account",
    async (amount) => {
      const userId = randomUUID();
      await createAccount(db, userId);
      await expect(topUp(db, userId, amount)).rejects.toBeInstanceOf(InvalidAmount);
      expect(await balanceOf(db, userId)).toBe(0);
      expect(await ledgerOf(db, userId)).toEqual([]);
    },
  );

  it("honours an idempotency key: 20 concurrent repeats top up once and all return the first result", async () => {
    const userId = randomUUID();
    await createAccount(db, userId);
    const key: IdempotencyKeyInput = {
      userId,
      scope: "payments.topUp",
      key: randomUUID(),
      request: { amount: 700 },
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => topUp(db, userId, 700, { idempotency: key })),
    );
    expect(results.map(({ account }) => account)).toEqual(
      Array.from({ length: 20 }, () => ({ userId, balance: 700 })),
    );
    // Only the one that topped up says so: a caller announces the top-up only then.
    expect(results.filter(({ replayed }) => !replayed)).toHaveLength(1);
    expect(await balanceOf(db, userId)).toBe(700);
    expect(await ledgerOf(db, userId)).toHaveLength(1);

    // Later repeat: the first result, even though the balance has changed since.
    await topUp(db, userId, 1);
    expect(await topUp(db, userId, 700, { idempotency: key })).toEqual({
      account: { userId, balance: 700 },
      replayed: true,
    });
    expect(await balanceOf(db, userId)).toBe(701);

    // Same key, another request: refused, nothing written. Another scope: a separate key.
    await expect(
      topUp(db, userId, 5, { idempotency: { ...key, request: { amount: 5 } } }),
    ).rejects.toBeInstanceOf(IdempotencyKeyReused);
    expect(await balanceOf(db, userId)).toBe(701);
    expect(await topUp(db, userId, 700, { idempotency: { ...key, scope: "admin.topUp" } })).toEqual({
      account: { userId, balance: 1401 },
      replayed: false,
    });
  });

  it("does not record an idempotency key when the top-up fails, so a retry can succeed", async () => {
    const userId = randomUUID();
    const key: IdempotencyKeyInput = { userId, scope: "payments.topUp", key: "k1", request: { amount: 10 } };
    await expect(topUp(db, userId, 10, { idempotency: key })).rejects.toBeInstanceOf(AccountNotFound);
    await createAccount(db, userId);
    expect(await topUp(db, userId, 10, { idempotency: key })).toEqual({
      account: { userId, balance: 10 },
      replayed: false,
    });
  });

  it("answers every concurrent repeat with the first result, also those whose own top-up the first took past the limit", async () => {
    const userId = randomUUID();
    await createAccount(db, userId);
    await db.$executeRaw`UPDATE accounts SET balance = ${BigInt(MAX_BALANCE) - 150n} WHERE user_id = ${userId}::uuid`;
    const key: IdempotencyKeyInput = {
      userId,
      scope: "payments.topUp",
      key: randomUUID(),
      request: { amount: 100 },
    };
    // Each repeat runs its top-up before it reaches the key: those that run after the first committed
    // find the balance 50 from the limit, and only the key can tell them the first is their answer.
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => topUp(db, userId, 100, { idempotency: key })),
    );
    expect(results.map((r) => (r.status === "fulfilled" ? r.value.account : r.reason))).toEqual(
      Array.from({ length: 8 }, () => ({ userId, balance: MAX_BALANCE - 50 })),
    );
    expect(await ledgerOf(db, userId)).toHaveLength(1);
  });
});
