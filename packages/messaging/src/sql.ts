// The slice of a Prisma client the shared machinery needs, typed structurally so that either service's
// generated client (orders or payments) fits without this package depending on one of them.

/** Raw SQL through tagged templates: values become bind parameters, never string concatenation. */
export interface SqlClient {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>;
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<number>;
}

/**
 * Prisma's interactive-transaction limits (ms): the wait for a connection, and the whole transaction's
 * life, after which it is rolled back. Both clients honour them (@gozon/db/sql-client as Prisma does).
 */
export type TransactionOptions = { maxWait?: number; timeout?: number };

/** A client that can also run an interactive transaction (a Prisma client, not a transaction client). */
export interface TransactionalSqlClient extends SqlClient {
  $transaction<R>(fn: (tx: SqlClient) => Promise<R>, options?: TransactionOptions): Promise<R>;
}
