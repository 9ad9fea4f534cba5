// Accounts and every movement of money: with the database's `decide_payments` (which charges orders,
// see decide-entries.ts), the only code that changes a balance.
//
// Rules kept in both, backed by the database: one account per user (primary key), the balance never
// goes negative (CHECK balance >= 0 plus a conditional UPDATE), every change of a balance writes a ledger
// entry in the same transaction (so balance == sum(ledger) at every commit), and a debit is unique per
// order (unique ledger_entries.order_id). Each change locks the account row before writing its ledger entry, so
// ledger ids of one account follow the order in which its balance changed.
import { idempotent, type IdempotencyKeyInput } from "@gozon/db/idempotency";
import { amountSchema } from "@gozon/messaging/contracts";
import type { SqlClient, TransactionalSqlClient } from "@gozon/messaging/sql";

export type Account = { userId: string; balance: number };

export class AccountExists extends Error {
  readonly code = "ACCOUNT_EXISTS";
  constructor(readonly userId: string) {
    super("An account already exists for this user");
    this.name = "AccountExists";
  }
}

export class AccountNotFound extends Error {
  readonly code = "ACCOUNT_NOT_FOUND";
  constructor(readonly userId: string) {
    super("No account exists for this user");
    this.name = "AccountNotFound";
  }
}

export class InvalidAmount extends Error {
  readonly code = "INVALID_AMOUNT";
  constructor(readonly amount: unknown) {
    super("amount must be an integer number of minor units between 1 and 1000000000");
    this.name = "InvalidAmount";
  }
}

/**
 * The largest balance an account may hold: the largest integer every client reads exactly (a JSON
 * number in JavaScript). Kept by the database too (CHECK accounts_balance_max).
 */
export const MAX_BALANCE = Number.MAX_SAFE_INTEGER;

export class BalanceLimitReached extends Error {
  readonly code = "BALANCE_LIMIT";
  constructor(
    readonly userId: string,
    readonly amount: number,
  ) {
    super(`A top-up may not take a balance past ${MAX_BALANCE}`);
    this.name = "BalanceLimitReached";
  }
}

type AccountRow = { userId: string; balance: bigint };

/** Transactions here are short; the limits only stop a stuck one from holding an account lock for long. */
export const TX_OPTIONS = { maxWait: 10_000, timeout: 15_000 };

function toAccount(row: AccountRow): Account {
  const balance = Number(row.balance);
  if (!Number.isSafeInteger(balance)) throw new Error(`balance of ${row.userId} exceeds the safe range`);
  return { userId: row.userId, balance };
}

/** Defence in depth: the API validates amounts too, but money code never trusts its caller. */
function checkAmount(amount: number) {
  if (!amountSchema.safeParse(amount).success) throw new InvalidAmount(amount);
  return BigInt(amount);
}

/** Opens the user's account with balance 0; a second call (even a concurrent one) throws AccountExists. */
export async function createAccount(db: SqlClient, userId: string): Promise<Account> {
  const rows = await db.$queryRaw<AccountRow[]>`
    INSERT INTO accounts (user_id, balance, updated_at) VALUES (${userId}::uuid, 0, now())
    ON CONFLICT (user_id) DO NOTHING
    RETURNING user_id::text AS "userId", balance`;
  if (!rows[0]) throw new AccountExists(userId);
  return toAccount(rows[0]);
}

/** The user's account, or null when there is none. */
export async function getAccount(db: SqlClient, userId: string): Promise<Account | null> {
  const rows = await db.$queryRaw<AccountRow[]>`
    SELECT user_id::text AS "userId", balance FROM accounts WHERE user_id = ${userId}::uuid`;
  return rows[0] ? toAccount(rows[0]) : null;
}

/** Accounts of several users (e.g. an admin's user search); users without one are absent from the map. */
export async function getAccounts(db: SqlClient, userIds: string[]): Promise<Map<string, Account>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.$queryRaw<AccountRow[]>`
    SELECT user_id::text AS "userId", balance FROM accounts WHERE user_id = ANY(${userIds}::uuid[])`;
  return new Map(rows.map((row) => [row.userId, toAccount(row)]));
}

/** The account after a top-up, and whether this call only replayed an earlier one (no second top-up). */
export type TopUp = { account: Account; replayed: boolean };

/**
 * Adds `amount` to the user's balance (one ledger TOP_UP entry, one transaction). Throws AccountNotFound
 * when the user has none. With `idempotency` (@gozon/db/idempotency), a repeated key with the same request
 * returns the first result without a second top-up and the same key with another request throws
 * IdempotencyKeyReused; the key is recorded in the top-up's transaction, so a crash cannot separate them.
 */
export async function topUp(
  db: TransactionalSqlClient,
  userId: string,
  amount: number,
  { idempotency }: { idempotency?: IdempotencyKeyInput | null } = {},
): Promise<TopUp> {
  checkAmount(amount);
  if (idempotency) {
    const { response, replayed } = await idempotent(db, idempotency, (tx) =>
      topUpInTransaction(tx, userId, amount),
    );
    return { account: response, replayed };
  }
  const account = await db.$transaction((tx) => topUpInTransaction(tx, userId, amount), TX_OPTIONS);
  return { account, replayed: false };
}

/** The top-up itself, for callers that already run a transaction. */
export async function topUpInTransaction(tx: SqlClient, userId: string, amount: number): Promise<Account> {
  const minor = checkAmount(amount);
  // One statement: the UPDATE takes the account's row lock before the ledger insert (see the module
  // comment), and the entry's balance_after is the balance this very UPDATE returned, so it is exact
  // however many changes of the account run at once.
  // A balance that would pass the limit is left alone, rather than failing the CHECK: then an account
  // that exists but is full reads differently from one that does not exist.
  const rows = await tx.$queryRaw<AccountRow[]>`
    WITH updated AS (
      UPDATE accounts SET balance = balance + ${minor}, updated_at = now()
      WHERE user_id = ${userId}::uuid AND balance <= ${BigInt(MAX_BALANCE) - minor}
      RETURNING user_id, balance
    ), entry AS (
      INSERT INTO ledger_entries (user_id, kind, amount, balance_after)
      SELECT user_id, 'TOP_UP'::"LedgerKind", ${minor}::bigint, balance FROM updated
    )
    SELECT user_id::text AS "userId", balance FROM updated`;
  if (rows[0]) return toAccount(rows[0]);
  if (await getAccount(tx, userId)) throw new BalanceLimitReached(userId, amount);
  throw new AccountNotFound(userId);
}
