// A Redis pub/sub channel followed by one process, for the notices that web instances hand to their
// WebSockets (revoked sessions, balance changes).
//
// The subscriber has a connection of its own (a subscribed connection can do nothing else). ioredis
// re-subscribes after a reconnect, but what was published meanwhile is lost, so what travels here must be
// either a hint the reader can do without or something healed from elsewhere (`onReconnect` says when).
//
// In a cluster this stays plain SUBSCRIBE/PUBLISH, not sharded SSUBSCRIBE/SPUBLISH: each channel carries
// all its messages, so sharding would put it on one shard anyway (no gain), while a plain message reaches
// every node and ioredis's cluster subscriber simply re-subscribes on any surviving node after a failover
// (a sharded subscriber must follow its slot to the new master).
import type { Logger } from "../logger.ts";
import { createRedisClient, type RedisTarget } from "./redis-client.ts";

export type ChannelOptions<T> = {
  channel: string;
  /** The connection's name in CLIENT LIST, and the subject of its log lines. */
  name: string;
  log: Logger;
  /** The message, or null when it is not one (anything may be published on a channel). */
  parse: (raw: string) => T | null;
  onMessage: (message: T) => void;
  /**
   * Each time the connection is ready and subscribed again (and on the first): what was published
   * meanwhile is lost, and anything published from now on arrives.
   */
  onReconnect?: () => void;
  /** At most one log line per this interval for the messages the channel ignored (the first at once). */
  ignoredLogIntervalMs?: number;
};

export type ChannelSubscription = {
  /** Resolves once Redis confirmed the subscription. */
  ready: Promise<void>;
  close(): void;
};

export function followChannel<T>(
  redis: RedisTarget,
  { channel, name, log, parse, onMessage, onReconnect, ignoredLogIntervalMs = 10_000 }: ChannelOptions<T>,
): ChannelSubscription {
  const subscriber = createRedisClient(redis, { maxRetriesPerRequest: null, connectionName: name });
  subscriber.on("error", (err: Error) =>
    log.warn({ err: err.message, channel }, `${name}: subscriber error`),
  );
  // Whoever can publish on the channel can publish garbage as fast as Redis carries it: one line per
  // message would flood the log. The first is logged at once, then at most one line per interval with
  // how many were ignored since the last line; the last of a burst a timer reports, or the close.
  let ignored = 0;
  let loggedAt = -Infinity;
  let tail: NodeJS.Timeout | undefined;
  const reportIgnored = () => {
    clearTimeout(tail);
    tail = undefined;
    if (ignored === 0) return;
    log.warn({ channel, ignored }, `${name}: ignored malformed or unsigned messages`);
    ignored = 0;
    loggedAt = Date.now();
  };
  subscriber.on("message", (_channel: string, raw: string) => {
    const message = parse(raw);
    if (message === null) {
      ignored++;
      const wait = loggedAt + ignoredLogIntervalMs - Date.now();
      if (wait <= 0) reportIgnored();
      else tail ??= setTimeout(reportIgnored, wait).unref();
      return;
    }
    onMessage(message);
  });
  // ioredis subscribes again after it says "ready"; asking once more and waiting for the answer tells
  // when the subscription holds (a repeated SUBSCRIBE changes nothing).
  if (onReconnect) {
    subscriber.on("ready", () => void subscriber.subscribe(channel).then(onReconnect, () => undefined));
  }
  const ready = subscriber.subscribe(channel).then(() => undefined);
  ready.catch((err: unknown) => log.error({ err, channel }, `${name}: subscription failed`));
  return {
    ready,
    close: () => {
      reportIgnored();
      subscriber.disconnect();
    },
  };
}
