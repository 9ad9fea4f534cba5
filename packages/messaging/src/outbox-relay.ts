// Transactional outbox, part 2: the one relay both services run over their own database's `outbox`.
//
// Each pass claims up to `batchSize` unsent rows with FOR UPDATE SKIP LOCKED inside one transaction (so
// several relays share the work without waiting on each other or sending a row twice concurrently), marks
// them sent, adds each to its BullMQ queue with jobId = message id, and unmarks the ones whose add failed,
// all in that same transaction.
// A crash after `add` and before the commit leaves the row unsent: it is published again later (at least
// once); the jobId makes BullMQ ignore the re-add while the job is still in Redis, and the consumer's
// inbox drops it after that. A row that failed to publish stays unsent (attempts + last_error) and is
// retried for ever: no high-water mark (a transaction that commits late would be skipped) and no parking.
//
// Wake-ups: LISTEN gozon_outbox (an AFTER INSERT trigger notifies) starts a pass at once; a poll every
// `pollMs` covers notifications lost while the listen connection was down; a full batch means more may
// be waiting, so the relay drains in a loop until a batch comes back short.
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import { deleteInBatches } from "@gozon/db/batches";
import { failpoint } from "./failpoints.ts";
import { listen, type PgListener } from "./pg-listener.ts";
import { defaultJobOptions, withTimeout } from "./queues.ts";
import type { TransactionalSqlClient } from "./sql.ts";

export const OUTBOX_CHANNEL = "gozon_outbox";

export type OutboxRelayOptions = {
  db: TransactionalSqlClient;
  /** The same database as `db`, for the LISTEN connection. */
  databaseUrl: string;
  connection: RedisClient;
  /** BullMQ key prefix (see `bullPrefix`). */
  prefix: string;
  log: Logger;
  /** Fallback poll interval (OUTBOX_POLL_MS). */
  pollMs: number;
  batchSize?: number;
  /** A Redis that does not answer must not hold the claimed rows (and their locks) for ever. */
  addTimeoutMs?: number;
};

type OutboxRow = { id: string; queue: string; type: string; payload: unknown };
type PassResult = { claimed: number; sent: number; failed: number };

export class OutboxRelay {
  private readonly queues = new Map<string, Queue>();
  private readonly batchSize: number;
  private readonly addTimeoutMs: number;
  private readonly log: Logger;
  private listener?: PgListener;
  private loop?: Promise<void>;
  private stopping = new AbortController();
  /** A notification arrived since the current pass claimed its rows. */
  private pending = false;
  private wake?: () => void;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 100;
    this.addTimeoutMs = options.addTimeoutMs ?? 5_000;
    this.log = options.log.child({ component: "outbox-relay" });
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
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.queues.clear();
  }

  /** One pass: claim, publish and mark one batch. Exposed for tests and tools; `start()` loops it. */
  async relayOnce(): Promise<PassResult> {
    return this.options.db.$transaction(
      async (tx) => {
        // Claimed and marked sent in one statement; the rows whose add fails are unmarked below, and a
        // crash before the commit undoes the mark.
        const claimed = await tx.$queryRaw<(OutboxRow & { created_at: Date })[]>`
          UPDATE outbox SET sent_at = now(), attempts = attempts + 1
          WHERE id IN (
            SELECT id FROM outbox WHERE sent_at IS NULL AND (relay_after IS NULL OR relay_after <= now())
            ORDER BY created_at
            LIMIT ${this.batchSize}
            FOR UPDATE SKIP LOCKED)
          RETURNING id::text AS id, queue, type, payload, created_at`;
        if (claimed.length === 0) return { claimed: 0, sent: 0, failed: 0 };
        const rows = claimed.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());

        const results = await Promise.allSettled(rows.map((row) => this.publish(row)));
        failpoint("relay-after-add");

        const failedIds: string[] = [];
        const errors: string[] = [];
        results.forEach((result, i) => {
          if (result.status === "fulfilled") return;
          failedIds.push(rows[i]!.id);
          errors.push(String(result.reason instanceof Error ? result.reason.message : result.reason));
        });
        if (failedIds.length > 0) {
          await tx.$executeRaw`
            UPDATE outbox AS o SET sent_at = NULL, last_error = f.error
            FROM unnest(${failedIds}::uuid[], ${errors}::text[]) AS f(id, error)
            WHERE o.id = f.id`;
          this.log.warn(
            { failed: failedIds.length, error: errors[0] },
            "outbox rows not published; will retry",
          );
        }
        return { claimed: rows.length, sent: rows.length - failedIds.length, failed: failedIds.length };
      },
      // The pass holds row locks while it talks to Redis: bounded by addTimeoutMs, plus slack.
      { maxWait: 10_000, timeout: this.addTimeoutMs + 10_000 },
    );
  }

  /**
   * Deletes sent rows older than `retentionDays`, in small batches (short transactions, no long locks).
   * Unsent rows are never purged, however old.
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
        pass = await this.relayOnce();
        failures = pass.failed > 0 ? failures + 1 : 0;
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

  private async publish(row: OutboxRow) {
    await withTimeout(
      this.queue(row.queue).add(row.type, row.payload, { jobId: row.id }),
      this.addTimeoutMs,
      `add to ${row.queue} timed out`,
    );
  }

  private queue(name: string) {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection: this.options.connection,
        prefix: this.options.prefix,
        defaultJobOptions,
      });
      queue.on("error", (err) => this.log.warn({ err, queue: name }, "queue connection error"));
      this.queues.set(name, queue);
    }
    return queue;
  }
}

export function createOutboxRelay(options: OutboxRelayOptions) {
  return new OutboxRelay(options);
}
