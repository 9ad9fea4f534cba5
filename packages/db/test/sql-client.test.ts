import { describe, expect, it } from "vitest";
import { createSqlPool, type SqlPool } from "../src/sql-client.ts";
import { connect, freshDatabase, onCleanup } from "./helpers.ts";

async function poolOn(label: string, options?: Parameters<typeof createSqlPool>[1]) {
  const url = await freshDatabase(label);
  const db = createSqlPool(url, options);
  onCleanup(() => db.$disconnect());
  await db.$executeRaw`CREATE TABLE money (id int PRIMARY KEY, amount bigint NOT NULL)`;
  return { url, db };
}

const amounts = (db: SqlPool) =>
  db.$queryRaw<{ id: number; amount: bigint }[]>`SELECT id, amount FROM money ORDER BY id`;

describe("createSqlPool", () => {
  it("binds values as parameters and returns BIGINT as bigint, exactly, beyond 2^53", async () => {
    const { db } = await poolOn("sqlpool-bigint");
    const huge = 2n ** 62n + 1n;
    const inserted = await db.$executeRaw`
      INSERT INTO money (id, amount) VALUES (${1}, ${huge}), (${2}, ${-5n})`;
    expect(inserted).toBe(2);
    expect(await amounts(db)).toEqual([
      { id: 1, amount: huge },
      { id: 2, amount: -5n },
    ]);
    const hostile = "'); DROP TABLE money; --";
    const [row] = await db.$queryRaw<{ echoed: string }[]>`SELECT ${hostile}::text AS echoed`;
    expect(row!.echoed).toBe(hostile);
    expect(await amounts(db)).toHaveLength(2);
  });

  it("commits a transaction that resolves and rolls back one that throws", async () => {
    const { db } = await poolOn("sqlpool-tx");
    const result = await db.$transaction(async (tx) => {
      await tx.$executeRaw`INSERT INTO money VALUES (1, 100)`;
      return tx.$executeRaw`UPDATE money SET amount = amount + 1 WHERE id = 1`;
    });
    expect(result).toBe(1);

    const failure = db.$transaction(async (tx) => {
      await tx.$executeRaw`INSERT INTO money VALUES (2, 200)`;
      await tx.$executeRaw`UPDATE money SET amount = 0 WHERE id = 1`;
      throw new Error("changed my mind");
    });
    await expect(failure).rejects.toThrow("changed my mind");
    // A statement error rolls back too (the second insert violates the primary key).
    await expect(
      db.$transaction(async (tx) => {
        await tx.$executeRaw`INSERT INTO money VALUES (3, 300)`;
        await tx.$executeRaw`INSERT INTO money VALUES (1, 1)`;
      }),
    ).rejects.toMatchObject({ code: "23505" });
    expect(await amounts(db)).toEqual([{ id: 1, amount: 101n }]);
  });

  it("survives its connections being terminated: the next query opens a fresh one", async () => {
    const { url, db } = await poolOn("sqlpool-cut", { max: 2 });
    await db.$executeRaw`INSERT INTO money VALUES (1, 1)`;
    const admin = await connect(url);
    const inTransaction = db.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE money SET amount = 2 WHERE id = 1`;
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      await tx.$executeRaw`UPDATE money SET amount = 3 WHERE id = 1`;
    });
    await expect(inTransaction).rejects.toThrow();
    expect(await amounts(db)).toEqual([{ id: 1, amount: 1n }]);
  });

  it("ends a transaction left idle past the statement timeout, releasing its locks", async () => {
    const { db } = await poolOn("sqlpool-idle", { statementTimeoutMs: 300 });
    await db.$executeRaw`INSERT INTO money VALUES (1, 1)`;
    const stuck = db.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE money SET amount = 2 WHERE id = 1`;
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // a caller hung while holding the row
      await tx.$executeRaw`UPDATE money SET amount = 3 WHERE id = 1`;
    });
    await expect(stuck).rejects.toThrow();
    // The row lock is gone: another transaction can change it at once.
    await db.$executeRaw`UPDATE money SET amount = 4 WHERE id = 1`;
    expect(await amounts(db)).toEqual([{ id: 1, amount: 4n }]);
  });
});
