// Transactional outbox, part 3: publish right after the commit, with the relay as the fallback.
//
// A message written with `writeOutbox(tx, message, { direct: true })` is left to its writer for a grace
// period (`relay_after`): right after its transaction commits, the writer adds it to its queue and marks
// the row sent. That is one Redis and one Postgres round trip in the writer's process, instead of a
// NOTIFY, a relay wake-up and a claim transaction in another process, on every hop of the saga. If the
// writer crashes or Redis fails in between, the row is still unsent, and the relay publishes it once the
// grace has passed (at least once: the job id and the consumer's inbox drop a second copy).
import { Queue } from "bullmq";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import type { Message } from "./contracts.ts";
import { groupCommit } from "./group-commit.ts";
import { signMessage, type MessageKey } from "./signing.ts";
import { defaultJobOptions, ROUTES, withTimeout, type QueuedMessageType, type QueueName } from "./queues.ts";
import type { SqlClient } from "./sql.ts";

/** A message as it is added to its queue: its type is the job name, its id the job id. */
export type QueuedMessage = { id: string; type: string; queue: string; payload: unknown };

/**
 * A job's data: the message with its signature under `key` (signing.ts). Signed here, where it is put on
 * its queue, never in SQL: the outbox holds the message, and the key stays in the services' memory.
 */
function jobData(key: MessageKey, message: QueuedMessage) {
  const { payload } = message;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new Error(`outbox row ${message.id} holds no message object: not signed, not published`);
  }
  return signMessage(key, payload);
}

/**
 * One BullMQ producer per queue name, shared by everything in a process that publishes. Every job it adds
 * is signed under `signingKey`: a consumer refuses anything else.
 */
export function createQueueProducers(
  connection: RedisClient,
  prefix: string,
  log: Logger,
  signingKey: MessageKey,
) {
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix, defaultJobOptions });
      q.on("error", (err) => log.warn({ err, queue: name }, "queue connection error"));
      queues.set(name, q);
    }
    return q;
  };
  /**
   * A Queue checks its connection once, when made (BullMQ sends INFO), and keeps that check's outcome
   * for good: one whose INFO was lost with a dropped connection fails every add from then on, however
   * well Redis answers later, and the rows it was to publish would stay unsent. After a failed add such
   * a queue is let go, and the next add makes a new one; a queue whose check passed is kept.
   */
  const dropIfBroken = (name: string, q: Queue) => {
    q.waitUntilReady().catch(() => {
      if (queues.get(name) !== q) return;
      queues.delete(name);
      log.warn({ queue: name }, "queue's connection check failed; making a new one");
      void q.close().catch(() => undefined);
    });
  };
  /** `add` on the queue `name`, letting a broken queue go when it fails. */
  const onQueue = async <T>(name: string, add: (q: Queue) => Promise<T>) => {
    const q = queue(name);
    try {
      return await add(q);
    } catch (error) {
      dropIfBroken(name, q);
      throw error;
    }
  };
  return {
    /**
     * Adds `messages` with one `addBulk` per queue (one round trip each); the job id is the message id,
     * so re-adding a message whose job is still in Redis is a no-op. Resolves to one settled result per
     * queue group, so a caller can tell which messages went out.
     */
    async add<M extends QueuedMessage>(messages: M[], timeoutMs: number) {
      const byQueue = new Map<string, M[]>();
      for (const m of messages) {
        const group = byQueue.get(m.queue);
        if (group) group.push(m);
        else byQueue.set(m.queue, [m]);
      }
      const groups = [...byQueue.entries()];
      const results = await Promise.allSettled(
        groups.map(([name, group]) =>
          withTimeout(
            onQueue(name, (q) =>
              q.addBulk(
                group.map((m) => ({ name: m.type, data: jobData(signingKey, m), opts: { jobId: m.id } })),
              ),
            ),
            timeoutMs,
            `add to ${name} timed out`,
          ),
        ),
      );
      return groups.map(([, group], i) => ({ messages: group, result: results[i]! }));
    },
    /** The key BullMQ keeps message `m`'s job under. */
    jobKey: (m: QueuedMessage) => queue(m.queue).toKey(m.id),
    /** Adds one message on its own (`add`, not `addBulk`), e.g. to find which message of a batch fails. */
    async addOne(m: QueuedMessage, timeoutMs: number) {
      await withTimeout(
        onQueue(m.queue, (q) => q.add(m.type, jobData(signingKey, m), { jobId: m.id })),
        timeoutMs,
        `add to ${m.queue} timed out`,
      );
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}

export type QueueProducers = ReturnType<typeof createQueueProducers>;

export const toQueued = (message: Message<QueuedMessageType>): QueuedMessage => ({
  id: message.messageId,
  type: message.type,
  queue: ROUTES[message.type] satisfies QueueName,
  payload: message,
});

type PublisherDeps = {
  db: SqlClient;
  producers: QueueProducers;
  log: Logger;
  /** Bound on one `addBulk` (default 2 s). */
  timeoutMs?: number;
  /** Longest a published row waits to be marked sent (default 50 ms; well inside the relay's grace). */
  markEveryMs?: number;
};

/**
 * Publishes messages whose outbox rows have just committed. What concurrent callers hand in while a
 * publish is under way goes out together, with one `addBulk` per queue; at low load each call publishes
 * at once, alone. `publish` never throws: what did not go out stays unsent, for the relay.
 *
 * The rows are marked sent in one call every `markEveryMs`, not per publish: the mark only tells the
 * relay to leave a row alone, and it does anyway for DIRECT_PUBLISH_GRACE_MS. A crash before a mark costs
 * one re-publish of those rows by the relay, which the job id (or the consumer's inbox) drops.
 */
export function createCommittedPublisher({
  db,
  producers,
  log,
  timeoutMs = 2_000,
  markEveryMs = 50,
}: PublisherDeps) {
  let unmarked: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = async () => {
    clearTimeout(timer);
    timer = undefined;
    const ids = unmarked;
    unmarked = [];
    if (ids.length === 0) return;
    try {
      // Row by row, by primary key (see the migration 20261202160000_mark_sent_by_primary_key for why).
      await db.$queryRaw`SELECT mark_outbox_sent(${ids}::uuid[])`;
    } catch (err) {
      // Postgres away: the relay publishes these rows again after the grace, harmlessly.
      log.warn(
        { err, count: ids.length },
        "could not mark published outbox rows sent; the relay will re-publish them",
      );
    }
  };

  const submit = groupCommit<Message<QueuedMessageType>[], void>({
    commitGroup: async (batches) => {
      const messages = batches.flat();
      try {
        const added = await producers.add(messages.map(toQueued), timeoutMs);
        for (const group of added) {
          if (group.result.status === "fulfilled") unmarked.push(...group.messages.map((m) => m.id));
          else log.warn({ err: group.result.reason }, "could not publish after commit; the relay will");
        }
      } catch (err) {
        log.warn({ err }, "could not publish after commit; the relay will");
      }
      if (unmarked.length > 0) timer ??= setTimeout(() => void flush(), markEveryMs);
      return batches.map(() => undefined);
    },
    maxGroup: 256,
    // Its input comes in bursts already (each upstream commit's callers hand in their messages within
    // one turn of the event loop, which the group gathers); waiting for a second commit would only delay.
    lingerMs: 0,
  });
  return {
    publish: (messages: Message<QueuedMessageType>[]) =>
      messages.length === 0 ? Promise.resolve() : submit(messages),
    /** Marks what has been published so far (resolves when done); call before closing the database pool. */
    close: flush,
  };
}
