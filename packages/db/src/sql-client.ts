// Raw SQL over `pg`: how the orders and payments services reach their databases. It has the same
// `$queryRaw` / `$executeRaw` / `$transaction` surface as a Prisma client, so code written against
// `SqlClient` takes either; the difference is cost. On the 2-core bench machine a statement through
// Prisma 7's client cost ~580 µs of Node CPU against ~240 µs through `pg` (a 3-statement transaction:
// ~1,090 against ~370 µs), and an order takes a couple of dozen statements across the services. The
// Prisma schemas still define these tables, their migrations and row types; identity keeps Prisma's client,
// and the outbox relays claim through one (./clients.ts) over this same `pool`: a batch per statement
// spreads Prisma's cost over many rows.
import pg from "pg";

/**
 * Prisma's transaction options, accepted so that callers written for either client fit. Here the pool's
 * limits apply instead: `connectionTimeoutMs` bounds the wait for a connection, and `statement_timeout`
 * plus `idle_in_transaction_session_timeout` bound a transaction that hangs.
 */
export type SqlTransactionOptions = { maxWait?: number; timeout?: number };

export interface SqlExecutor {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): Promise<T>;
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): Promise<number>;
}

export interface SqlPool extends SqlExecutor {
  /** Runs `fn` in one transaction (READ COMMITTED): committed when it resolves, rolled back when it throws. */
  $transaction<R>(fn: (tx: SqlExecutor) => Promise<R>, options?: SqlTransactionOptions): Promise<R>;
  /** Ends `pool`, after whatever shares it (a Prisma client over it) has been disconnected. */
  $disconnect(): Promise<void>;
  /** The `pg.Pool` underneath: one per database, shared with a Prisma client (`createOrdersClient`). */
  readonly pool: pg.Pool;
}

export type SqlPoolOptions = {
  max?: number;
  /** Bounds every statement and every transaction left idle, so a stuck caller cannot hold locks for ever. */
  statementTimeoutMs?: number;
  connectionTimeoutMs?: number;
};

const INT8_OID = 20;

/** BIGINT as `bigint`, as Prisma returns it: money never passes through a float. */
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return (value: string) => BigInt(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** `SELECT ... ${a} ... ${b}` → `SELECT ... $1 ... $2` with [a, b]: values are always bind parameters. */
function toQuery(strings: TemplateStringsArray, values: unknown[]): pg.QueryConfig {
  let text = strings[0] ?? "";
  for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`;
  return { text, values };
}

function executor(run: (query: pg.QueryConfig) => Promise<pg.QueryResult>): SqlExecutor {
  return {
    async $queryRaw<T>(strings: TemplateStringsArray, ...values: unknown[]) {
      return (await run(toQuery(strings, values))).rows as T;
    },
    async $executeRaw(strings: TemplateStringsArray, ...values: unknown[]) {
      return (await run(toQuery(strings, values))).rowCount ?? 0;
    },
  };
}

export function createSqlPool(url: string, options: SqlPoolOptions = {}): SqlPool {
  const statementTimeout = options.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? Number(process.env.DB_POOL_MAX ?? 10),
    types,
    // Sent in the startup packet: no extra round trip per transaction.
    statement_timeout: statementTimeout,
    idle_in_transaction_session_timeout: statementTimeout,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
  });
  // An idle pooled connection that dies (Postgres restarted, backend terminated) emits here; without a
  // listener the process would crash. The pool drops it; the next query opens a fresh one.
  pool.on("error", () => {});

  return {
    pool,
    ...executor((query) => pool.query(query)),
    async $transaction(fn) {
      const client = await pool.connect();
      // A checked-out client reports a dead connection (terminated backend, idle-in-transaction timeout)
      // as an 'error' event besides failing its query; unheard, that event would crash the process.
      const onConnectionError = () => {};
      client.on("error", onConnectionError);
      let broken: unknown;
      try {
        await client.query("BEGIN");
        const result = await fn(executor((query) => client.query(query)));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch((rollbackError: unknown) => (broken = rollbackError));
        throw error;
      } finally {
        // A connection that could not roll back is in an unknown state: destroy it rather than reuse it.
        client.off("error", onConnectionError);
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    async $disconnect() {
      await pool.end();
    },
  };
}
