// Stamps commit-ordered positions on new order changes and announces them to the web instances
// (see packages/orders/src/order-log.ts for why positions are stamped after commit). Settles stamp their
// own changes as they commit (settle-order.ts), and the creates waiting before them, up to 500 besides
// their own orders'; what is left to this assigner is the orders just created whose settle has not come
// yet, and a backlog the orders worker finds when it comes back.
import type { Logger } from "@gozon/core/logger";
import { listen } from "@gozon/messaging/pg-listener";
import type { MessageKey } from "@gozon/messaging/signing";
import type { SqlClient } from "@gozon/messaging/sql";
import { publishOrderEvents } from "./order-events.ts";
import { assignPositions } from "./order-log.ts";

export type PositionAssignerOptions = {
  db: SqlClient;
  databaseUrl: string;
  publisher: Parameters<typeof publishOrderEvents>[0];
  redisPrefix: string;
  /** The events are signed under it (MESSAGE_SIGNING_KEY). */
  signingKey: MessageKey;
  log: Logger;
  /** Fallback poll; new changes wake the assigner at once through LISTEN/NOTIFY. */
  pollMs: number;
  /** Rows stamped per transaction. */
  batch?: number;
  /**
   * How long a wake-up waits before its run (default 50 ms); the wake-ups in that time share the run. An
   * order's settle stamps the creates waiting before it (settle_orders), and it usually commits within
   * this time: then the order's creation is announced with its settle, in the settle's own publish, and
   * the run finds nothing to do. A run per create would cost a statement (under the lock settles take)
   * and a publish each. Only an order whose payment is slow waits this long to be announced.
   *
   * Creates notify once per burst, not each (the orders migration `order_changes_notify_burst`), so a
   * run that stamped something is followed by another after the same wait: the burst's later creates
   * are stamped by those. The assigner sleeps again after a run that finds nothing.
   */
  delayMs?: number;
};

/** Runs the assigner in this process: woken by the first create of a burst, and polling as the fallback. */
export function startPositionAssigner({
  db,
  databaseUrl,
  publisher,
  redisPrefix,
  signingKey,
  log,
  pollMs,
  batch = 500,
  delayMs = 50,
}: PositionAssignerOptions) {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const drain = async () => {
    let stamped: boolean;
    do {
      // Wake-ups that arrive during this wait are served by this run: their rows committed before it starts.
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      again = false;
      stamped = false;
      for (;;) {
        const events = await assignPositions(db, batch);
        if (events.length > 0) {
          stamped = true;
          // Positions are committed: a change that fails to go out here is filled in from the log by
          // the web instances (they notice the hole, or read the log on their next poll).
          await publishOrderEvents(publisher, redisPrefix, signingKey, events).catch((err: unknown) =>
            log.warn(
              { err, count: events.length },
              "could not publish order events; feeds will read the log",
            ),
          );
        }
        // A stop does not wait for a backlog (after an outage, it may be long): what is committed is
        // announced, and the next start goes on from there.
        if (events.length < batch || stopped) break;
      }
    } while (!stopped && (again || stamped));
  };

  /** One drain at a time; a wake-up during a drain, or a round that stamped rows, makes it go round again. */
  const run = () => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = drain()
      .catch((err: unknown) => log.error({ err }, "position assignment failed; will retry"))
      .finally(() => (running = undefined));
    return running;
  };

  const listener = listen({
    url: databaseUrl,
    channel: "gozon_order_changes",
    onNotify: () => void run(),
    log,
  });
  const poll = setInterval(() => void run(), pollMs);
  return {
    /** Stamps and announces what is waiting now (resolves once a run finds nothing left to stamp). */
    run,
    async stop() {
      stopped = true;
      clearInterval(poll);
      await listener.stop();
      await running;
    },
  };
}
