// The migrations and schema.prisma must describe the same database: Prisma Client trusts the schema,
// the database is built from the migrations. Plus the guarantees only the migrations can express.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { services, type Service } from "@gozon/core/config";
import { migrate } from "../src/migrate.ts";
import { actualCatalog, datamodelOf, expectedCatalog } from "./catalog.ts";
import { connect, freshDatabase } from "./helpers.ts";

const schemaOf = (service: Service) =>
  readFile(fileURLToPath(new URL(`../prisma/${service}/schema.prisma`, import.meta.url)), "utf8");

async function migratedDatabase(service: Service) {
  const url = await freshDatabase(`schema_${service}`);
  await migrate(url, service);
  return url;
}
const migrated = async (service: Service) => connect(await migratedDatabase(service));

/** Resolves with the error code Postgres rejects the statement with (undefined when it succeeds). */
async function rejectionCode(client: pg.Client, sql: string, params: unknown[] = []) {
  try {
    await client.query("SAVEPOINT probe");
    await client.query(sql, params);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  } finally {
    await client.query("ROLLBACK TO SAVEPOINT probe");
  }
}

const CHECK_VIOLATION = "23514";

describe("migrations match schema.prisma", () => {
  it.each(services)(
    "%s: tables, columns, types, nullability, defaults, enums, indexes and keys",
    async (service) => {
      const client = await migrated(service);
      const expected = expectedCatalog(datamodelOf(await schemaOf(service)));
      expect(Object.keys(expected.tables).length).toBeGreaterThan(0);
      expect(await actualCatalog(client)).toStrictEqual(expected);
    },
  );

  it("notices a column that only schema.prisma has, or only the database has", async () => {
    const client = await migrated("orders");
    const schema = await schemaOf("orders");
    const withExtraField = schema.replace("model Order {", "model Order {\n  note String?");
    expect(withExtraField).not.toBe(schema);
    expect(await actualCatalog(client)).not.toStrictEqual(expectedCatalog(datamodelOf(withExtraField)));

    await client.query(`ALTER TABLE orders ADD COLUMN note TEXT`);
    expect(await actualCatalog(client)).not.toStrictEqual(expectedCatalog(datamodelOf(schema)));
    // With the column on both sides they agree again: the difference above was that column alone.
    expect(await actualCatalog(client)).toStrictEqual(expectedCatalog(datamodelOf(withExtraField)));
  });
});

describe("database-level guarantees", () => {
  it("orders: amount within 1..1e9, description trimmed 1..500 characters", async () => {
    const client = await migrated("orders");
    await client.query("BEGIN");
    const insert = (amount: number, description: string) =>
      rejectionCode(
        client,
        `INSERT INTO orders (id, user_id, amount, description, updated_at) VALUES ($1, $2, $3, $4, now())`,
        [randomUUID(), randomUUID(), amount, description],
      );
    expect(await insert(1, "ok")).toBeUndefined();
    expect(await insert(1_000_000_000, "x".repeat(500))).toBeUndefined();
    expect(await insert(0, "ok")).toBe(CHECK_VIOLATION);
    expect(await insert(1_000_000_001, "ok")).toBe(CHECK_VIOLATION);
    expect(await insert(1, "   ")).toBe(CHECK_VIOLATION);
    expect(await insert(1, "x".repeat(501))).toBe(CHECK_VIOLATION);
  });

  it("payments: no negative balance (nor balance after an entry), none past 2^53 - 1, ledger sign and order link follow the kind, FAILED needs a reason", async () => {
    const client = await migrated("payments");
    const user = randomUUID();
    await client.query(`INSERT INTO accounts (user_id, updated_at) VALUES ($1, now())`, [user]);
    await client.query("BEGIN");

    expect(await rejectionCode(client, `UPDATE accounts SET balance = -1 WHERE user_id = $1`, [user])).toBe(
      CHECK_VIOLATION,
    );
    const setBalance = (balance: string) =>
      rejectionCode(client, `UPDATE accounts SET balance = $2 WHERE user_id = $1`, [user, balance]);
    expect(await setBalance("9007199254740992")).toBe(CHECK_VIOLATION);
    expect(await setBalance("9007199254740991")).toBeUndefined();

    const entry = (kind: string, amount: number, orderId: string | null, balanceAfter = 100) =>
      rejectionCode(
        client,
        `INSERT INTO ledger_entries (user_id, kind, amount, order_id, balance_after) VALUES ($1, $2, $3, $4, $5)`,
        [user, kind, amount, orderId, balanceAfter],
      );
    expect(await entry("TOP_UP", 100, null)).toBeUndefined();
    expect(await entry("ORDER_DEBIT", -100, randomUUID())).toBeUndefined();
    expect(await entry("TOP_UP", -100, null)).toBe(CHECK_VIOLATION);
    expect(await entry("TOP_UP", 100, randomUUID())).toBe(CHECK_VIOLATION);
    expect(await entry("ORDER_DEBIT", 100, randomUUID())).toBe(CHECK_VIOLATION);
    expect(await entry("ORDER_DEBIT", -100, null)).toBe(CHECK_VIOLATION);
    expect(await entry("ORDER_DEBIT", -100, randomUUID(), 0)).toBeUndefined();
    expect(await entry("ORDER_DEBIT", -100, randomUUID(), -1)).toBe(CHECK_VIOLATION);

    const decision = (outcome: string, reason: string | null) =>
      rejectionCode(
        client,
        `INSERT INTO payment_decisions (order_id, user_id, amount, outcome, reason) VALUES ($1, $2, 1, $3, $4)`,
        [randomUUID(), user, outcome, reason],
      );
    expect(await decision("SUCCEEDED", null)).toBeUndefined();
    expect(await decision("FAILED", "NO_ACCOUNT")).toBeUndefined();
    expect(await decision("FAILED", null)).toBe(CHECK_VIOLATION);
    expect(await decision("SUCCEEDED", "INSUFFICIENT_FUNDS")).toBe(CHECK_VIOLATION);
  });

  it("identity: emails are stored trimmed and lower case", async () => {
    const client = await migrated("identity");
    await client.query("BEGIN");
    const insert = (email: string) =>
      rejectionCode(
        client,
        `INSERT INTO users (id, email, password_hash, updated_at) VALUES ($1, $2, 'h', now())`,
        [randomUUID(), email],
      );
    expect(await insert("a@example.com")).toBeUndefined();
    expect(await insert("B@example.com")).toBe(CHECK_VIOLATION);
    expect(await insert(" c@example.com")).toBe(CHECK_VIOLATION);
  });

  it.each(["orders", "payments"] as const)(
    "%s outbox: an insert notifies gozon_outbox with each queue; unsent rows not parked have a partial index, parked rows another",
    async (service) => {
      const url = await migratedDatabase(service);
      const [client, listener] = await Promise.all([connect(url), connect(url)]);
      await listener.query("LISTEN gozon_outbox");
      const received: string[] = [];
      const bothArrived = new Promise<void>((resolve) =>
        listener.on("notification", (message) => {
          if (message.channel === "gozon_outbox") received.push(message.payload ?? "");
          if (received.length >= 2) resolve();
        }),
      );

      await client.query(
        `INSERT INTO outbox (id, queue, type, payload)
         VALUES ($1, 'payments', 't', '{}'), ($2, 'payments', 't', '{}'), ($3, 'results', 't', '{}')`,
        [randomUUID(), randomUUID(), randomUUID()],
      );
      await expect(withDeadline(bothArrived, 10_000)).resolves.toBeUndefined();
      expect(received.sort()).toEqual(["payments", "results"]);

      const { rows } = await client.query(
        `SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_unsent_created_at_idx'`,
      );
      expect(rows[0]?.indexdef).toMatch(
        /\(created_at\) WHERE \(\(sent_at IS NULL\) AND \(parked_at IS NULL\)\)$/,
      );
      const parked = await client.query(
        `SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_parked_at_idx'`,
      );
      expect(parked.rows[0]?.indexdef).toMatch(/\(parked_at DESC\) WHERE \(parked_at IS NOT NULL\)$/);
    },
  );
});

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing arrived within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
