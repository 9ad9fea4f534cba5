// The migration that adds ledger_entries.balance_after fills it in for the entries already there.
import { randomUUID } from "node:crypto";
import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { migrate, migrationsDir } from "../src/migrate.ts";
import { connect, freshDatabase, onCleanup } from "./helpers.ts";

const BALANCE_AFTER = "20261201050000_ledger_balance_after";

it("backfills balance_after with each account's running sum in id order", async () => {
  // The payments migrations up to the one before balance_after, in a scratch folder.
  const dir = await mkdtemp(path.join(os.tmpdir(), "gozon-backfill-"));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  await cp(migrationsDir("payments"), dir, {
    recursive: true,
    filter: (source) => !source.includes(BALANCE_AFTER),
  });
  const url = await freshDatabase("ledger_backfill");
  await migrate(url, "payments", undefined, dir);

  // Two accounts whose entries interleave.
  const client = await connect(url);
  const [a, b] = [randomUUID(), randomUUID()];
  await client.query(
    `INSERT INTO accounts (user_id, balance, updated_at) VALUES ($1, 130, now()), ($2, 5, now())`,
    [a, b],
  );
  const entries: [string, string, number, string | null][] = [
    [a, "TOP_UP", 100, null],
    [b, "TOP_UP", 10, null],
    [a, "ORDER_DEBIT", -40, randomUUID()],
    [b, "ORDER_DEBIT", -5, randomUUID()],
    [a, "TOP_UP", 70, null],
  ];
  for (const [user, kind, amount, orderId] of entries) {
    await client.query(
      `INSERT INTO ledger_entries (user_id, kind, amount, order_id) VALUES ($1, $2, $3, $4)`,
      [user, kind, amount, orderId],
    );
  }

  await cp(path.join(migrationsDir("payments"), BALANCE_AFTER), path.join(dir, BALANCE_AFTER), {
    recursive: true,
  });
  expect(await migrate(url, "payments", undefined, dir)).toEqual({ applied: [BALANCE_AFTER] });

  const { rows } = await client.query<{ user_id: string; amount: string; balance_after: string }>(
    `SELECT user_id, amount, balance_after FROM ledger_entries ORDER BY id`,
  );
  expect(rows.map((row) => [row.user_id, Number(row.amount), Number(row.balance_after)])).toEqual([
    [a, 100, 100],
    [b, 10, 10],
    [a, -40, 60],
    [b, -5, 5],
    [a, 70, 130],
  ]);
  // And from now on the column is required.
  await expect(
    client.query(`INSERT INTO ledger_entries (user_id, kind, amount) VALUES ($1, 'TOP_UP', 1)`, [a]),
  ).rejects.toMatchObject({ code: "23502" });
});
