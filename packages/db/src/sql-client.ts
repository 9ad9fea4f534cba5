// Raw SQL over `pg`: how the orders and payments services reach their databases. It has the same
// `$queryRaw` / `$executeRaw` / `$transaction` surface as a Prisma client, so code written against
// `SqlClient` takes either; the difference is cost. On the 2-core bench machine a statement through
// Prisma 7's client cost ~580 µs of Node CPU against ~240 µs through `pg` (a 3-statement transaction:
// ~1,090 against ~370 µs), and an order takes a couple of dozen statements across the services. The
// Prisma schemas still define these tables, their migrations and row types; identity keeps Prisma's client,
// and the outbox relays claim through one (./clients.ts) over this same `pool`: a batch per statement
// spreads Prisma's cost over many rows.
import { createHash } from "node:crypto";
import pg from "pg";
import { poolMaxFromEnv } from "./pool-size.ts";

/**
 * Prisma's interactive-transaction options, with Prisma's meaning: `maxWait` bounds the wait for a pooled
 * connection, `timeout` the whole transaction, from its first statement to its commit. Either one
 * exceeded rejects with a `TransactionTimeoutError` (Prisma's code P2028), and a transaction past its
 * `timeout` is rolled back, never committed. Without them the pool's limits alone apply (see
 * `SqlPoolOptions`).
 */
export type SqlTransactionOptions = { maxWait?: number; timeout?: number };

/** A transaction that could not start within `maxWait` or outlived its `timeout`. */
export class TransactionTimeoutError extends Error {
  /** Prisma's code for the same failure, so callers that classify Prisma errors classify this one too. */
  readonly code = "P2028";
  constructor(message: string) {
    super(message);
    this.name = "TransactionTimeoutError";
  }
}

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

// A template's text and statement name, computed once per call site: `strings` is the same object every
// time a given tagged template runs.
const statements = new WeakMap<TemplateStringsArray, { text: string; name: string }>();

/**
 * `SELECT ... ${a} ... ${b}` → `SELECT ... $1 ... $2` with [a, b]: values are always bind parameters.
 * The statement is named after its text, so each pooled connection parses and plans it once and then
 * only binds and executes it: on the bench, parsing and planning were a large share of Postgres's CPU
 * per order, for statements that never change.
 */
function toQuery(strings: TemplateStringsArray, values: unknown[]): pg.QueryConfig {
  let statement = statements.get(strings);
  if (!statement) {
    let text = strings[0] ?? "";
    for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`;
    statement = { text, name: `gz_${createHash("sha1").update(text).digest("hex").slice(0, 24)}` };
    statements.set(strings, statement);
  }
  return { ...statement, values };
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

/**
 * How long a pooled connection may sit idle before it is closed (ms). pg-pool's default, 10 s, closes the
 * connections a burst of requests opened, and a burst a few seconds later opens them again: a Postgres
 * backend forked and its caches warmed on the request path, when the system is busiest (the bench saw
 * connections open right after its slowest orders). A minute keeps them between the bursts of a steady
 * load, and still lets a spike's connections go soon after it (every pool is bounded by `max` anyway).
 */
export const POOL_IDLE_TIMEOUT_MS = 60_000;

export function createSqlPool(url: string, options: SqlPoolOptions = {}): SqlPool {
  const statementTimeout = options.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? poolMaxFromEnv(),
    types,
    // Sent in the startup packet: no extra round trip per transaction.
    statement_timeout: statementTimeout,
    idle_in_transaction_session_timeout: statementTimeout,
    // A statement still running when its client is gone (the process was killed) is cancelled within a
    // second, instead of running on, up to the statement timeout, holding its locks: a payment group's
    // orders and accounts are free again for the worker that takes over.
    options: "-c client_connection_check_interval=1000",
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
  });
  // An idle pooled connection that dies (Postgres restarted, backend terminated) emits here; without a
  // listener the process would crash. The pool drops it; the next query opens a fresh one.
  pool.on("error", () => {});
  // Each connection listens for its own death from the moment it opens, whoever holds it then: between
  // a checkout and the holder's own listener (ours below, or PrismaPg's for the relay's transactions)
  // pg-pool has taken its idle listener off, and a FATAL that arrives with the connection's first reply
  // (its backend terminated at once) was an unheard 'error' event that crashed the worker. The query
  // running on it fails anyway, and the pool drops the connection.
  pool.on("connect", (client) => client.on("error", () => {}));

  return {
    pool,
    ...executor((query) => pool.query(query)),
    async $transaction(fn, { maxWait, timeout } = {}) {
      // A dead connection (terminated backend, idle-in-transaction timeout) also emits 'error': the
      // listener every connection gets when it opens (above) hears it.
      const client = await checkout(pool, maxWait);
      let broken: unknown;
      let expired: TransactionTimeoutError | undefined;
      const timedOut = () => new TransactionTimeoutError(`transaction exceeded its timeout of ${timeout} ms`);
      const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
      // Past the deadline the connection is destroyed: Postgres rolls the transaction back and frees its
      // locks as soon as it sees the connection gone (at once when the session waits on us; a statement
      // running then is cancelled by the statement timeout, lowered to `timeout` at BEGIN when that is
      // shorter). A longer `timeout` never raises the pool's bound on each statement.
      const timer =
        timeout === undefined
          ? undefined
          : setTimeout(() => {
              expired = timedOut();
              client.release(expired);
            }, timeout);
      const run = (query: pg.QueryConfig | string) => {
        if (expired) throw expired;
        return client.query(query);
      };
      try {
        await run(
          timeout === undefined || timeout >= statementTimeout
            ? "BEGIN"
            : `BEGIN; SET LOCAL statement_timeout = ${Math.ceil(timeout)}`,
        );
        const result = await fn(executor(run));
        await run("COMMIT");
        return result;
      } catch (error) {
        if (!expired)
          await client.query("ROLLBACK").catch((rollbackError: unknown) => (broken = rollbackError));
        // The statement timeout and the timer race at the deadline; either way the caller hears the timeout.
        if (expired || Date.now() >= deadline) throw expired ?? timedOut();
        throw error;
      } finally {
        clearTimeout(timer);
        // A connection that could not roll back is in an unknown state: destroy it rather than reuse it.
        if (!expired) client.release(broken instanceof Error ? broken : undefined);
      }
    },
    async $disconnect() {
      await pool.end();
    },
  };
}

/**
 * A pooled connection, waiting at most `maxWait` ms for one (the pool's own connection timeout applies
 * too). A connection that arrives after the caller gave up goes straight back to the pool.
 */
async function checkout(pool: pg.Pool, maxWait: number | undefined): Promise<pg.PoolClient> {
  const pending = pool.connect();
  if (maxWait === undefined) return pending;
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      pending.then(
        (late) => late.release(),
        () => {},
      );
      reject(new TransactionTimeoutError(`no database connection within maxWait of ${maxWait} ms`));
    }, maxWait);
  });
  try {
    return await Promise.race([pending, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}
