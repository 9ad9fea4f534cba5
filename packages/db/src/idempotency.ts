// `Idempotency-Key` support shared by the services that have an `idempotency_keys` table.
//
// The key row is written in the same transaction as the effect, after it. A concurrent request with
// the same key blocks on the primary key until the first commits, then finds the conflict and rolls its
// own effect back: exactly one effect, whatever the timing, and every caller gets the first response
// (also one whose own effect failed because the first had run).
import { createHash } from "node:crypto";
import { deleteInBatches } from "./batches.ts";

export type SqlClient = {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>;
};

export type TransactionRunner<Tx extends SqlClient> = {
  $transaction<R>(run: (tx: Tx) => Promise<R>): Promise<R>;
};

export type IdempotencyKeyInput = {
  userId: string;
  /** The operation, e.g. `orders.create`: one key may be used once per operation. */
  scope: string;
  key: string;
  /** What the caller asked for; the same key with a different request is refused. */
  request: unknown;
};

/** The key was used before with a different request. */
export class IdempotencyKeyReused extends Error {
  constructor(readonly scope: string) {
    super("This Idempotency-Key was already used with a different request");
    this.name = "IdempotencyKeyReused";
  }
}

class Replay extends Error {}

type StoredKey = { request_hash: string; response: unknown };

/** The first response, and whether this call only replayed it (its effect ran in an earlier call). */
export type Idempotent<R> = { response: R; replayed: boolean };

/**
 * Runs `effect` in a transaction at most once per key. Returns the first response (JSON round-tripped,
 * so a replay and the first call look the same) or throws IdempotencyKeyReused.
 */
export async function idempotent<Tx extends SqlClient, R>(
  db: TransactionRunner<Tx> & SqlClient,
  key: IdempotencyKeyInput | null | undefined,
  effect: (tx: Tx) => Promise<R>,
): Promise<Idempotent<R>> {
  if (!key) return { response: await db.$transaction(effect), replayed: false };
  const requestHash = createHash("sha256").update(stableJson(key.request)).digest("hex");

  const replay = async () => {
    const [stored] = await db.$queryRaw<StoredKey[]>`
      SELECT request_hash, response FROM idempotency_keys
      WHERE user_id = ${key.userId}::uuid AND scope = ${key.scope} AND key = ${key.key}`;
    if (!stored) return undefined;
    if (stored.request_hash !== requestHash) throw new IdempotencyKeyReused(key.scope);
    return { response: stored.response as R, replayed: true };
  };

  const earlier = await replay();
  if (earlier) return earlier;
  try {
    const response = await db.$transaction(async (tx) => {
      const response = JSON.parse(JSON.stringify(await effect(tx))) as R;
      const inserted = await tx.$queryRaw<unknown[]>`
        INSERT INTO idempotency_keys (user_id, scope, key, request_hash, response)
        VALUES (${key.userId}::uuid, ${key.scope}, ${key.key}, ${requestHash}, ${JSON.stringify(response)}::jsonb)
        ON CONFLICT DO NOTHING RETURNING 1`;
      if (inserted.length === 0) throw new Replay();
      return response;
    });
    return { response, replayed: false };
  } catch (error) {
    // A request with the same key may have committed meanwhile. Then its effect is the one, and this
    // call's own failure is not the answer: its effect was judged after the first one's (a top-up that
    // the first took past the balance limit, say), or found the key taken (Replay). (A commit whose
    // answer was lost reads as a replay of itself here: its caller then announces nothing, and the
    // outbox relay, not the caller, sends what it wrote.)
    const first = await replay().catch((lookup: unknown) => {
      if (lookup instanceof IdempotencyKeyReused) throw lookup;
      return undefined; // the database failing: the effect's error says more
    });
    if (first) return first;
    if (error instanceof Replay) throw new Error("idempotency key vanished during a replay");
    throw error;
  }
}

/** JSON with object keys sorted, so the same request always hashes the same. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Deletes keys older than the retention, in small batches (the spec keeps them at least 24 hours). */
export async function purgeIdempotencyKeys(db: SqlClient, olderThanHours: number, batch = 500) {
  return deleteInBatches(batch, async () => {
    const rows = await db.$queryRaw<unknown[]>`
      DELETE FROM idempotency_keys WHERE ctid IN (
        SELECT ctid FROM idempotency_keys
        WHERE created_at < now() - make_interval(hours => ${Math.max(24, olderThanHours)}::int)
        LIMIT ${batch}
      ) RETURNING 1`;
    return rows.length;
  });
}
