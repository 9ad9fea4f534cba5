// Revoked sessions, announced to every web instance over Redis pub/sub: a logout or a refresh-token
// family revoked for reuse must also end that session's open WebSockets, wherever they are connected.
import { createRedisClient, type RedisTarget } from "@gozon/core/infra/redis-client";
import { z } from "zod";
import type { Logger } from "@gozon/core/logger";
import type { SessionRevocation } from "./tokens.ts";

export type { SessionRevocation };

export const sessionRevocationsChannel = (redisPrefix: string) => `${redisPrefix}:session-revoked`;

const revocationSchema = z.object({ userId: z.string().min(1), sessionId: z.string().min(1).nullable() });

type Publisher = { publish(channel: string, message: string): Promise<number> };

export async function publishSessionRevoked(
  redis: Publisher,
  redisPrefix: string,
  revocation: SessionRevocation,
) {
  await redis.publish(sessionRevocationsChannel(redisPrefix), JSON.stringify(revocation));
}

/** One subscriber connection per web process; `ready` resolves once Redis confirmed the subscription. */
export function subscribeSessionRevocations(
  redis: string | RedisTarget,
  redisPrefix: string,
  log: Logger,
  onRevoked: (revocation: SessionRevocation) => void,
) {
  const channel = sessionRevocationsChannel(redisPrefix);
  // ioredis re-subscribes after a reconnect; a revocation published meanwhile is lost, and the socket
  // then ends at its access token's expiry (minutes) instead. In a cluster: plain pub/sub, for the
  // reasons given in order-event-bus.ts.
  const subscriber = createRedisClient(typeof redis === "string" ? { REDIS_URL: redis } : redis, {
    maxRetriesPerRequest: null,
    connectionName: "web-session-revocations",
  });
  subscriber.on("error", (err: Error) =>
    log.warn({ err: err.message }, "session revocations subscriber error"),
  );
  subscriber.on("message", (_channel: string, raw: string) => {
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      data = undefined;
    }
    const parsed = revocationSchema.safeParse(data);
    if (!parsed.success) return void log.warn({ channel }, "ignored a malformed session revocation");
    onRevoked(parsed.data);
  });
  const ready = subscriber.subscribe(channel).then(() => undefined);
  ready.catch((err: unknown) => log.error({ err }, "session revocations subscription failed"));
  return {
    ready,
    close() {
      subscriber.disconnect();
    },
  };
}
