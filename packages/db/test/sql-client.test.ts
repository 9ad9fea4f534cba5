import { describe, expect, it, vi } from "vitest";
import {
  createSqlPool,
  POOL_IDLE_TIMEOUT_MS,
  TransactionTimeoutError,
  type SqlPool,
} from "../src/sql-client.ts";
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

  it("prepares a statement once per connection and then reuses it", async () => {
    const { db } = await poolOn("sqlpool-prepared", { max: 1 });
    await db.$executeRaw`INSERT INTO money VALUES (1, 100)`;
    for (let i = 0; i < 3; i++) expect(await amounts(db)).toHaveLength(1);
    const prepared = await db.$queryRaw<{ statement: string; runs: bigint }[]>`
      SELECT statement, generic_plans + custom_plans AS runs FROM pg_prepared_statements
      WHERE name LIKE 'gz\_%' AND statement LIKE 'SELECT id, amount FROM money%'`;
    expect(prepared).toEqual([{ statement: expect.stringContaining("ORDER BY id"), runs: 3n }]);
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

  it("keeps the connections a burst opened for the next burst, not pg-pool's 10 s", async () => {
    const { db } = await poolOn("idle");
    // Only the timers: the connections are real. pg-pool starts a connection's idle timer at release.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      await Promise.all(Array.from({ length: 4 }, () => db.$queryRaw`SELECT pg_sleep(0.05)`));
      expect(db.pool.totalCount).toBe(4);
      vi.advanceTimersByTime(30_000); // a lull between bursts
      expect(db.pool.idleCount).toBe(4);
      vi.advanceTimersByTime(POOL_IDLE_TIMEOUT_MS); // a quiet spell: they are closed after all
      expect(db.pool.totalCount).toBe(0);
    } finally {
      vi.useRealTimers();
    }
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

  it("never crashes the process when connections are terminated as they open, over and over", async () => {
    const { url, db } = await poolOn("sqlpool-storm", { max: 4 });
    const admin = await connect(url);
    // A connection whose backend dies with its first reply emitted an 'error' nobody heard.
    const unheard: unknown[] = [];
    const onUncaught = (error: unknown) => unheard.push(error);
    process.on("uncaughtException", onUncaught);
    onCleanup(async () => void process.off("uncaughtException", onUncaught));
    const until = Date.now() + 2_000;
    let committed = 0;
    const transactions = async () => {
      while (Date.now() < until) {
        await db
          .$transaction((tx) => tx.$queryRaw`SELECT 1`)
          .then(() => committed++)
          .catch(() => undefined); // a terminated transaction fails; that is not the question here
      }
    };
    const storm = async () => {
      while (Date.now() < until) {
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await Promise.all([storm(), ...Array.from({ length: 4 }, transactions)]);
    expect(unheard).toEqual([]);
    expect(committed).toBeGreaterThan(0);
    expect(await db.$queryRaw<{ one: number }[]>`SELECT 1 AS one`).toEqual([{ one: 1 }]);
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

  it("rolls back a transaction that outlives its timeout, freeing its locks at the deadline", async () => {
    const { db } = await poolOn("sqlpool-timeout");
    await db.$executeRaw`INSERT INTO money VALUES (1, 1)`;
    const started = Date.now();
    const slow = db.$transaction(
      async (tx) => {
        await tx.$executeRaw`UPDATE money SET amount = 2 WHERE id = 1`;
        await new Promise((resolve) => setTimeout(resolve, 1_500)); // a caller hung while holding the row
        await tx.$executeRaw`UPDATE money SET amount = 3 WHERE id = 1`;
      },
      { timeout: 300 },
    );
    const failure = slow.catch((error: unknown) => error);
    // The row is free well before the hung caller wakes: the lock went with the deadline.
    await db.$executeRaw`UPDATE money SET amount = 4 WHERE id = 1`;
    expect(Date.now() - started).toBeLessThan(1_200);
    const error = await failure;
    expect(error).toBeInstanceOf(TransactionTimeoutError);
    expect(error).toMatchObject({ code: "P2028" });
    expect(await amounts(db)).toEqual([{ id: 1, amount: 4n }]);

    // A transaction whose work ends after its deadline is not committed, even with no statement after it.
    const late = db.$transaction(
      async (tx) => {
        await tx.$executeRaw`INSERT INTO money VALUES (2, 2)`;
        await new Promise((resolve) => setTimeout(resolve, 500));
      },
      { timeout: 200 },
    );
    await expect(late).rejects.toBeInstanceOf(TransactionTimeoutError);
    expect(await amounts(db)).toEqual([{ id: 1, amount: 4n }]);
    // Within its timeout a transaction commits as usual.
    await db.$transaction((tx) => tx.$executeRaw`INSERT INTO money VALUES (3, 3)`, { timeout: 5_000 });
    expect(await amounts(db)).toHaveLength(2);
  });

  it("bounds each statement in a transaction by the shorter of its timeout and the pool's", async () => {
    const { db } = await poolOn("sqlpool-statement-bound", { statementTimeoutMs: 1_000 });
    const boundIn = (timeout: number) =>
      db.$transaction(
        async (tx) =>
          (await tx.$queryRaw<{ bound: string }[]>`SELECT current_setting('statement_timeout') AS bound`)[0]!
            .bound,
        { timeout },
      );
    expect(await boundIn(300)).toBe("300ms");
    // A transaction allowed longer than the pool's statement bound does not lift that bound.
    expect(await boundIn(60_000)).toBe("1s");
    await expect(
      db.$transaction((tx) => tx.$queryRaw`SELECT pg_sleep(3)`, { timeout: 60_000 }),
    ).rejects.toThrow(/statement timeout/);
    await waitForNoSleepers(db);
  });

  it("cancels a statement still running at the deadline", async () => {
    const { db } = await poolOn("sqlpool-timeout-statement");
    const started = Date.now();
    await expect(
      db.$transaction((tx) => tx.$queryRaw`SELECT pg_sleep(5)`, { timeout: 300 }),
    ).rejects.toBeInstanceOf(TransactionTimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    // The session is gone, not left sleeping: only this pool's own query is active.
    await waitForNoSleepers(db);
  });

  it("gives up waiting for a connection after maxWait, and the pool stays whole", async () => {
    const { db } = await poolOn("sqlpool-maxwait", { max: 1 });
    let releaseHolder!: () => void;
    const holding = new Promise<void>((resolve) => (releaseHolder = resolve));
    const holder = db.$transaction(async (tx) => {
      await tx.$executeRaw`INSERT INTO money VALUES (1, 1)`;
      await holding;
    });
    const started = Date.now();
    await expect(db.$transaction(async () => {}, { maxWait: 200 })).rejects.toMatchObject({
      name: "TransactionTimeoutError",
      code: "P2028",
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    releaseHolder();
    await holder;
    // The connection the abandoned wait would have got went back to the pool: one connection serves on.
    for (let i = 2; i <= 4; i++) {
      await db.$transaction((tx) => tx.$executeRaw`INSERT INTO money VALUES (${i}, ${i})`, {
        maxWait: 1_000,
      });
    }
    expect(await amounts(db)).toHaveLength(4);
  });
});

async function waitForNoSleepers(db: SqlPool) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [row] = await db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%' AND state = 'active'`;
    if (row!.n === 0n) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the timed-out statement is still running");
}
