// Revoked sessions, announced to every web instance over Redis pub/sub: a logout or a refresh-token
// family revoked for reuse must also end that session's open WebSockets, wherever they are connected.
import { followChannel } from "@gozon/core/infra/redis-channel";
import type { RedisTarget } from "@gozon/core/infra/redis-client";
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

/**
 * One subscriber connection per web process. A revocation published while it reconnects is lost, and the
 * socket then ends at its access token's expiry (minutes) instead.
 */
export function subscribeSessionRevocations(
  redis: string | RedisTarget,
  redisPrefix: string,
  log: Logger,
  onRevoked: (revocation: SessionRevocation) => void,
) {
  return followChannel(typeof redis === "string" ? { REDIS_URL: redis } : redis, {
    channel: sessionRevocationsChannel(redisPrefix),
    name: "web-session-revocations",
    log,
    parse: (raw) => {
      try {
        const parsed = revocationSchema.safeParse(JSON.parse(raw));
        return parsed.success ? parsed.data : null;
      } catch {
        return null;
      }
    },
    onMessage: onRevoked,
  });
}
