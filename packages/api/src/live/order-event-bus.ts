// Fan-out of order changes inside one web process, in log-position order with no holes.
//
// Every web instance holds one Redis subscriber on the order-events channel (the orders worker publishes
// each change there once its position is committed) and hands each change to the subscriptions of this
// process. Redis pub/sub drops messages while a subscriber is away and says nothing, so the bus heals
// itself from the order change log: positions are dense, so an event at P+2 after P shows a hole; a
// reconnect of the subscriber may hide one; a lost trailing event shows nothing at all. In each case the
// bus reads the log after the last position it delivered (on the hole, on the reconnect, and on a short
// poll) and delivers what it finds first. Listeners therefore see every change once, in position order.
// The channel is followed as every pub/sub notice is (@gozon/core/infra/redis-channel): one small
// message per order change, which a Redis Cluster's bus carries easily; what a failover loses is read
// from the log like any other gap.
import { setTimeout as sleep } from "node:timers/promises";
import { followChannel } from "@gozon/core/infra/redis-channel";
import type { RedisTarget } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import type { MessageKey } from "@gozon/messaging/signing";
import type { SqlClient } from "@gozon/messaging/sql";
import { orderEventsChannel, parseOrderEvent, type OrderEvent } from "@gozon/orders/order-events";
import { changesAfter, logBounds } from "@gozon/orders/order-log";

export type OrderEventListener = (event: OrderEvent) => void;

export type OrderEventBus = {
  /** Every change after `head` at the moment of the call, in position order, each once. */
  subscribe(listener: OrderEventListener): () => void;
  /**
   * Resolves once the bus knows the log's last position: subscribed to Redis, or without it when Redis
   * has not answered within `subscribeWaitMs` (the log and the poll serve until it does).
   */
  ready: Promise<void>;
  /** The last position handed to the listeners. */
  readonly head: number;
  readonly listeners: number;
  close(): Promise<void>;
};

export type OrderEventBusOptions = {
  /** A redis:// URL, or the config naming a cluster (REDIS_CLUSTER_NODES). */
  redis: string | RedisTarget;
  redisPrefix: string;
  /** Events not signed under it (MESSAGE_SIGNING_KEY) are dropped: anyone may publish on a channel. */
  signingKey: MessageKey;
  db: SqlClient;
  log: Logger;
  /** How often the log is read for changes that pub/sub did not bring. */
  pollMs: number;
  /** How long the start waits for the Redis subscription before it goes on from the log alone. */
  subscribeWaitMs?: number;
};

/** Rows per read of the log; a long catch-up reads page after page. */
const PAGE = 500;
/** Live events held while a catch-up runs; past this they are dropped and read from the log instead. */
const MAX_HELD = 10_000;

export function createOrderEventBus({
  redis,
  redisPrefix,
  signingKey,
  db,
  log,
  pollMs,
  subscribeWaitMs = 2_000,
}: OrderEventBusOptions): OrderEventBus {
  const listeners = new Set<OrderEventListener>();
  const channel = orderEventsChannel(redisPrefix);
  let head = 0;
  let started = false;
  let closed = false;
  /** Live events that arrived ahead of a hole (or before the start), by position. */
  const held = new Map<number, OrderEvent>();
  let catchingUp: Promise<void> | undefined;
  let catchUpAgain = false;

  const deliver = (event: OrderEvent) => {
    head = event.position;
    for (const listener of listeners) listener(event);
  };

  /** Delivers held events that continue `head` without a hole; drops those already delivered. */
  const deliverHeld = () => {
    for (const position of [...held.keys()]) if (position <= head) held.delete(position);
    for (let next = held.get(head + 1); next; next = held.get(head + 1)) {
      held.delete(next.position);
      deliver(next);
    }
  };

  const readLog = async () => {
    do {
      catchUpAgain = false;
      for (;;) {
        const page = await changesAfter(db, head, { userId: null, limit: PAGE });
        // The log is the truth: it has every committed position after `head` (purged ones aside).
        for (const event of page) if (event.position > head) deliver(event);
        if (page.length < PAGE) break;
      }
      deliverHeld();
    } while (catchUpAgain && !closed);
  };

  /** Reads the log after `head`; one read at a time, and a call during a read makes it read once more. */
  const catchUp = () => {
    if (!started || closed) return;
    if (catchingUp) {
      catchUpAgain = true;
      return;
    }
    catchingUp = readLog()
      .catch((err: unknown) => log.warn({ err }, "could not read the order change log; will retry"))
      .finally(() => (catchingUp = undefined));
  };

  const onLive = (event: OrderEvent) => {
    if (event.position <= head) return;
    if (started && !catchingUp && event.position === head + 1) {
      deliver(event);
      return;
    }
    if (held.size >= MAX_HELD) held.clear(); // the log has them all
    held.set(event.position, event);
    catchUp();
  };

  const subscription = followChannel(typeof redis === "string" ? { REDIS_URL: redis } : redis, {
    channel,
    name: `${redisPrefix}:web-order-events`,
    log,
    // A forged event at the next position would be delivered, and the real one then skipped as seen:
    // only events signed by the services get this far.
    parse: (raw) => parseOrderEvent(signingKey, raw),
    onMessage: onLive,
    // Messages published while the connection was down are gone: read them from the log.
    onReconnect: catchUp,
  });

  const ready = (async () => {
    // Subscribed first, then the log's end: an event published in between is held, not lost. But a
    // Redis that does not answer must not hold every feed of this process back: the log has each
    // change, the poll reads it, and once the subscription holds, `onReconnect` reads what came between.
    await Promise.race([
      subscription.ready.catch(() => undefined),
      sleep(subscribeWaitMs, undefined, { ref: false }),
    ]);
    for (let attempt = 1; ; attempt++) {
      try {
        head = (await logBounds(db)).last;
        break;
      } catch (err) {
        if (closed) throw err;
        log.warn({ err, attempt }, "cannot read the order change log yet; retrying");
        await sleep(Math.min(100 * 2 ** attempt, 5_000));
      }
    }
    started = true;
    deliverHeld();
    // Also when nothing is held: a subscription that came (or came back) while the log's end was read
    // asked for a catch-up before the bus had started, and that was a no-op.
    catchUp();
  })();
  ready.catch((err: unknown) => log.error({ err }, "order events subscription failed"));
  const poll = setInterval(catchUp, pollMs);
  poll.unref();

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ready,
    get head() {
      return head;
    },
    get listeners() {
      return listeners.size;
    },
    async close() {
      closed = true;
      clearInterval(poll);
      listeners.clear();
      subscription.close();
      await catchingUp;
    },
  };
}
