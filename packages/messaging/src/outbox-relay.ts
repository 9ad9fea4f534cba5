// Transactional outbox, part 2: the one relay both services run over their own database's `outbox`.
//
// Each pass, in one transaction of the service's Prisma client: claims up to `batchSize` unsent rows with
// FOR UPDATE SKIP LOCKED and marks them sent in the same statement (so several relays share the work
// without waiting on each other or sending a row twice concurrently), adds them to BullMQ with one
// `addBulk` per queue (jobId = message id), and unmarks the ones whose add failed. One claim statement per
// batch spreads Prisma's per-statement cost over the batch's rows. A row its writer publishes itself right
// after the commit (`relay_after`, see outbox-publisher.ts) is left to the writer until then.
// A crash after the add and before the commit leaves the rows unsent: they are published again later (at
// least once); the jobId makes BullMQ ignore the re-add while the job is still in Redis (in `addBulk` as
// in `add`), and the consumer's inbox drops it after that. No high-water mark: a transaction that commits
// late would be skipped. Rows go out oldest first, but with no order between them: several relays and
// concurrent consumers would undo any.
//
// Failures. `addBulk` pipelines one script per job, so a failed batch may be partly added: the relay then
// asks Redis for a PING. No answer: Redis itself is failing, every row of the batch stays unsent, and the
// relay backs off as a whole. An answer: the batch is added again one row at a time (re-adds are no-ops),
// so a row that cannot be added fails alone and its neighbours go out. A refusal is the row's own only when
// its job key holds something else than a job; otherwise the rows share what fails (a key of the queue),
// and the relay backs off as for a failing Redis. A row at fault counts a failure
// (`failures`; `attempts` counts every claim, outages included) and at `maxFailures` it is parked: set
// aside, out of the claims, visible in the metrics and to admins. Never for good: after `parkedRetryMs` a
// parked row gets one more try, and is parked again at once if it still fails.
//
// Wake-ups: LISTEN gozon_outbox (an AFTER INSERT trigger notifies) starts a pass at once; a poll every
// `pollMs` covers notifications lost while the listen connection was down; a full batch means more may
// be waiting, so the relay drains in a loop until a batch comes back short.
import { setTimeout as sleep } from "node:timers/promises";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import { deleteInBatches } from "@gozon/db/batches";
import { failpoint } from "./failpoints.ts";
import { listen, type PgListener } from "./pg-listener.ts";
import { createQueueProducers, type QueueProducers } from "./outbox-publisher.ts";
import type { MessageKey } from "./signing.ts";
import { isRedisStateError, pingRedis, withTimeout } from "./queues.ts";
import type { TransactionalSqlClient } from "./sql.ts";

export const OUTBOX_CHANNEL = "gozon_outbox";

/** How long a PING may take before Redis counts as failing (after a failed add). */
const PING_TIMEOUT_MS = 1_000;

export type OutboxRelayOptions = {
  /**
   * The service's Prisma client (`createOrdersClient` / `createPaymentsClient` of @gozon/db/clients): its
   * `$transaction` honours the `maxWait` and `timeout` a pass sets.
   */
  db: TransactionalSqlClient;
  /** The same database as `db`, for the LISTEN connection. */
  databaseUrl: string;
  connection: RedisClient;
  /** BullMQ key prefix (see `bullPrefix`). */
  prefix: string;
  /** Every job is signed under it (MESSAGE_SIGNING_KEY, see signing.ts). */
  signingKey: MessageKey;
  log: Logger;
  /** Fallback poll interval (OUTBOX_POLL_MS). */
  pollMs: number;
  batchSize?: number;
  /** A Redis that does not answer must not hold the claimed rows (and their locks) for ever. */
  addTimeoutMs?: number;
  /** Failures of a row while Redis answers before it is parked (default 10). */
  maxFailures?: number;
  /** How long a row stays parked before its next try (default 10 minutes). */
  parkedRetryMs?: number;
};

type OutboxRow = { id: string; queue: string; type: string; payload: unknown };

export type PassResult = {
  claimed: number;
  sent: number;
  failed: number;
  /** Rows parked by this pass (failed for the `maxFailures`-th time while Redis answered). */
  parked: number;
  /**
   * Redis did not answer, refused for a state of its own, or refused every row alike: the failures were
   * not the rows' own, and the relay backs off.
   */
  redisFailed: boolean;
};

type Published = { failed: Map<string, string>; redisFailed: boolean };

const EMPTY: PassResult = { claimed: 0, sent: 0, failed: 0, parked: 0, redisFailed: false };

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class OutboxRelay {
  private readonly producers: QueueProducers;
  private readonly batchSize: number;
  private readonly addTimeoutMs: number;
  private readonly maxFailures: number;
  private readonly parkedRetryMs: number;
  private readonly log: Logger;
  private listener?: PgListener;
  private loop?: Promise<void>;
  private stopping = new AbortController();
  /** A notification arrived since the current pass claimed its rows. */
  private pending = false;
  private wake?: () => void;
  private nextParkedRetry = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 100;
    this.addTimeoutMs = options.addTimeoutMs ?? 5_000;
    this.log = options.log.child({ component: "outbox-relay" });
    this.producers = createQueueProducers(options.connection, options.prefix, this.log, options.signingKey);
    this.maxFailures = options.maxFailures ?? 10;
    this.parkedRetryMs = options.parkedRetryMs ?? 10 * 60_000;
    if (!Number.isInteger(this.maxFailures) || this.maxFailures < 1)
      throw new Error(`maxFailures must be a positive integer (got ${options.maxFailures})`);
  }

  /** True while the LISTEN connection is up (tests wait for it before relying on a prompt wake-up). */
  get listening() {
    return this.listener?.listening ?? false;
  }

  start() {
    if (this.loop) return;
    this.listener = listen({
      url: this.options.databaseUrl,
      channel: OUTBOX_CHANNEL,
      onNotify: () => this.notify(),
      log: this.log,
    });
    this.loop = this.run();
  }

  async stop() {
    this.stopping.abort();
    this.wake?.();
    await this.loop;
    await this.listener?.stop();
    await this.producers.close();
  }

  /** One pass: claim, publish and mark one batch. Exposed for tests and tools; `start()` loops it. */
  async relayOnce(): Promise<PassResult> {
    return this.options.db.$transaction(
      async (tx) => {
        // Claimed and marked sent in one statement (last_error cleared: the row is sent unless the add
        // fails, which sets it again); the failed rows are unmarked below, a crash before the commit undoes
        // the mark.
        const rows = await tx.$queryRaw<OutboxRow[]>`
          UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL
          WHERE id IN (
            SELECT id FROM outbox
            WHERE sent_at IS NULL AND parked_at IS NULL AND (relay_after IS NULL OR relay_after <= now())
            ORDER BY created_at
            LIMIT ${this.batchSize}
            FOR UPDATE SKIP LOCKED)
          RETURNING id::text AS id, queue, type, payload`;
        if (rows.length === 0) return EMPTY;

        const { failed, redisFailed } = await this.publish(rows);
        failpoint("relay-after-add");
        if (failed.size === 0) return { ...EMPTY, claimed: rows.length, sent: rows.length };

        const counted = redisFailed ? 0 : 1;
        const unmarked = await tx.$queryRaw<{ id: string; parked: boolean }[]>`
          UPDATE outbox AS o
          SET sent_at = NULL, last_error = f.error, failures = o.failures + ${counted}::int,
              parked_at = CASE WHEN ${counted}::int = 1 AND o.failures + 1 >= ${this.maxFailures}::int
                               THEN now() END
          FROM unnest(${[...failed.keys()]}::uuid[], ${[...failed.values()]}::text[]) AS f(id, error)
          WHERE o.id = f.id
          RETURNING o.id::text AS id, o.parked_at IS NOT NULL AS parked`;
        const parked = unmarked.filter((row) => row.parked).map((row) => row.id);
        if (!redisFailed) {
          this.log.warn(
            { failed: failed.size, parked: parked.length, error: failed.values().next().value },
            "outbox rows not published while Redis answers; will retry",
          );
        }
        if (parked.length > 0) {
          this.log.error(
            { ids: parked, maxFailures: this.maxFailures, retryInMs: this.parkedRetryMs },
            "outbox rows parked: they failed to publish too many times",
          );
        }
        return {
          claimed: rows.length,
          sent: rows.length - failed.size,
          failed: failed.size,
          parked: parked.length,
          redisFailed,
        };
      },
      // The pass holds its rows' locks while it talks to Redis: an addBulk, a PING and the one-by-one
      // adds, each bounded, plus slack for the statements. Past this Prisma rolls back (rows unsent again).
      { maxWait: 10_000, timeout: 2 * this.addTimeoutMs + PING_TIMEOUT_MS + 5_000 },
    );
  }

  /**
   * Gives every row parked longer than `parkedRetryMs` one more try: back in the claims, one failure short
   * of the limit, so a row that still fails is parked again at its next pass. Returns how many.
   */
  async retryParked(): Promise<number> {
    return this.options.db.$executeRaw`
      UPDATE outbox SET parked_at = NULL, failures = LEAST(failures, ${this.maxFailures - 1}::int)
      WHERE parked_at IS NOT NULL
        AND parked_at <= now() - make_interval(secs => ${this.parkedRetryMs / 1000}::float8)`;
  }

  /**
   * Deletes sent rows older than `retentionDays`, in small batches (short transactions, no long locks).
   * Unsent rows, parked ones included, are never purged, however old.
   */
  async purgeSent(retentionDays: number, batchSize = 500): Promise<number> {
    return deleteInBatches(
      batchSize,
      () => this.options.db.$executeRaw`
        DELETE FROM outbox WHERE id IN (
          SELECT id FROM outbox
          WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(days => ${retentionDays}::int)
          LIMIT ${batchSize}
          FOR UPDATE SKIP LOCKED)`,
    );
  }

  private notify() {
    this.pending = true;
    this.wake?.();
  }

  private async run() {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      this.pending = false;
      let pass: PassResult | undefined;
      try {
        if (Date.now() >= this.nextParkedRetry) {
          this.nextParkedRetry = Date.now() + Math.min(this.parkedRetryMs, 60_000);
          const retried = await this.retryParked();
          if (retried > 0) this.log.info({ retried }, "parked outbox rows get one more try");
        }
        pass = await this.relayOnce();
        // Only a failing Redis slows the relay down; a row that fails alone must not throttle the rest.
        failures = pass.redisFailed ? failures + 1 : 0;
        if (pass.redisFailed && (failures === 1 || failures % 20 === 0))
          this.log.warn(
            { failures, unsent: pass.failed },
            "Redis does not answer or refuses every row; outbox relay backs off",
          );
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0)
          this.log.warn({ err, failures }, "outbox relay pass failed");
      }
      if (this.stopping.signal.aborted) break;
      if (failures > 0) {
        // Postgres or Redis is in trouble: back off (notifications must not turn this into a hot loop).
        await sleep(Math.min(100 * 2 ** (failures - 1), 5_000), undefined, {
          signal: this.stopping.signal,
        }).catch(() => {});
      } else if (pass?.claimed !== this.batchSize && !this.pending) {
        await this.idle();
      }
    }
  }

  /** Waits for a notification, the poll interval or stop(), whichever comes first. */
  private idle() {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.options.pollMs);
      this.wake = done;
    });
  }

  /** Adds `rows` to their queues; the ids of the rows that failed, with why. */
  private async publish(rows: OutboxRow[]): Promise<Published> {
    const added = await this.producers.add(rows, this.addTimeoutMs);
    const results = added.map((group) => group.result);
    const retry = added.flatMap((group) => (group.result.status === "rejected" ? group.messages : []));
    const failed = new Map<string, string>();
    if (retry.length === 0) return { failed, redisFailed: false };
    const redisDown = (reason: unknown) => {
      for (const row of retry) failed.set(row.id, messageOf(reason));
      return { failed, redisFailed: true };
    };

    const reason = results.find((result) => result.status === "rejected")?.reason;
    if (isRedisStateError(reason)) return redisDown(reason);
    try {
      // Asked in the queues' own slot: in a cluster, another node answers while theirs is down.
      await pingRedis(
        this.options.connection,
        Math.min(PING_TIMEOUT_MS, this.addTimeoutMs),
        `${this.options.prefix}:relay-probe`,
      );
    } catch (error) {
      return redisDown(reason ?? error);
    }
    // Redis answers, so a row of the batch may be at fault: one at a time, each row stands alone.
    const single = await Promise.allSettled(
      retry.map((row) => this.producers.addOne(row, this.addTimeoutMs)),
    );
    const refused: Array<{ row: OutboxRow; reason: unknown }> = [];
    single.forEach((result, i) => {
      if (result.status !== "rejected") return;
      failed.set(retry[i]!.id, messageOf(result.reason));
      refused.push({ row: retry[i]!, reason: result.reason });
    });
    if (refused.length === 0) return { failed, redisFailed: false };
    // Refused one by one for Redis's own state too (a batch's transaction is refused as a whole, for a
    // reason it names less plainly): no row is at fault, none is counted towards parking.
    if (refused.every(({ reason }) => isRedisStateError(reason))) return { failed, redisFailed: true };
    // A row is at fault only when its own job key holds something else than a job. Otherwise what fails
    // is something the rows share (a key of the queue that another hand broke): counted against each
    // row it would park the whole outbox, to wait `parkedRetryMs` more once Redis is mended.
    const own = await Promise.all(refused.map(({ row }) => this.jobKeyBroken(row)));
    return { failed, redisFailed: !own.every(Boolean) };
  }

  /** Whether the row's own job key holds something else than a job (false when Redis cannot say). */
  private async jobKeyBroken(row: OutboxRow): Promise<boolean> {
    const key = this.producers.jobKey(row);
    const type = await withTimeout(
      this.options.connection.type(key),
      this.addTimeoutMs,
      "TYPE timed out",
    ).catch(() => "none");
    return type !== "none" && type !== "hash";
  }
}

export function createOutboxRelay(options: OutboxRelayOptions) {
  return new OutboxRelay(options);
}
