// Balance changes, live: a web process follows the balance-changes channel once and hands each top-up to
// the subscriptions of its user. These are hints (pub/sub keeps nothing): a page reads its balance again
// when told, and again whenever its subscription restarts, so one lost while a socket was down costs
// nothing but a moment's delay.
import { followChannel } from "@gozon/core/infra/redis-channel";
import type { RedisTarget } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import type { MessageKey } from "@gozon/messaging/signing";
import { balanceEventsChannel, parseBalanceEvent, type BalanceEvent } from "@gozon/payments/balance-events";

export type { BalanceEvent };
export { balanceEventsChannel };
type Listener = (event: BalanceEvent) => void;

export type BalanceEventBus = {
  subscribe(userId: string, listener: Listener): () => void;
  /** Subscriptions listening in this process. */
  readonly listeners: number;
  /** Resolves once Redis confirmed the subscription. */
  ready: Promise<void>;
  close(): Promise<void>;
};

export function createBalanceEventBus({
  redis,
  redisPrefix,
  signingKey,
  log,
}: {
  redis: RedisTarget;
  redisPrefix: string;
  /** Events not signed under it (MESSAGE_SIGNING_KEY) are dropped. */
  signingKey: MessageKey;
  log: Logger;
}): BalanceEventBus {
  const listeners = new Map<string, Set<Listener>>();
  const channel = followChannel(redis, {
    channel: balanceEventsChannel(redisPrefix),
    name: `${redisPrefix}:web-balance-changes`,
    log,
    parse: (raw) => parseBalanceEvent(signingKey, raw),
    onMessage: (event) => {
      for (const listener of listeners.get(event.userId) ?? []) listener(event);
    },
  });
  return {
    subscribe(userId, listener) {
      const own = listeners.get(userId) ?? new Set();
      own.add(listener);
      listeners.set(userId, own);
      // Safe to call twice: a set that a later subscription made for the same user stays.
      return () => {
        own.delete(listener);
        if (own.size === 0 && listeners.get(userId) === own) listeners.delete(userId);
      };
    },
    get listeners() {
      let count = 0;
      for (const own of listeners.values()) count += own.size;
      return count;
    },
    ready: channel.ready,
    async close() {
      listeners.clear();
      channel.close();
    },
  };
}

/**
 * One user's balance changes until `signal` aborts. It listens (and Redis has confirmed the channel)
 * before it resolves, so before tRPC tells the client the subscription has started: a page reads its
 * balance on that start, and every top-up after it reaches the page. A burst that arrives faster than the
 * client reads is sent as its latest change (the page only reads the balance again), so nothing piles up.
 */
export async function balanceFeed(
  bus: BalanceEventBus,
  userId: string,
  signal: AbortSignal | undefined,
): Promise<AsyncGenerator<BalanceEvent>> {
  const aborted = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  await Promise.race([bus.ready, aborted]);
  let latest: BalanceEvent | undefined;
  let wake: (() => void) | undefined;
  const unsubscribe = bus.subscribe(userId, (event) => {
    latest = event;
    wake?.();
  });
  // A subscription closed before its first read never runs the generator below, nor its `finally`.
  signal?.addEventListener("abort", unsubscribe, { once: true });
  if (signal?.aborted) unsubscribe();
  return (async function* () {
    try {
      while (!signal?.aborted) {
        if (latest) {
          const event = latest;
          latest = undefined;
          yield event;
          continue;
        }
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
        wake = undefined;
      }
    } finally {
      unsubscribe();
    }
  })();
}
