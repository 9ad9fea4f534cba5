import { createHash } from "node:crypto";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { tooManyRequests } from "../errors.ts";

export type RateLimitRule = { points: number; durationSeconds: number };

export type RateLimitSettings = {
  /** Failed logins for one email within the window; the next attempt is refused. */
  loginFailuresPerEmail: RateLimitRule;
  /** Failed logins from one IP within the window (any emails). */
  loginFailuresPerIp: RateLimitRule;
  /** Registration attempts from one IP. */
  registerPerIp: RateLimitRule;
  /** Registration attempts for one email. */
  registerPerEmail: RateLimitRule;
};

export const defaultRateLimits: RateLimitSettings = {
  loginFailuresPerEmail: { points: 5, durationSeconds: 15 * 60 },
  loginFailuresPerIp: { points: 50, durationSeconds: 15 * 60 },
  registerPerIp: { points: 50, durationSeconds: 60 * 60 },
  registerPerEmail: { points: 5, durationSeconds: 60 * 60 },
};

export type AuthRateLimiter = {
  /** Throws TOO_MANY_REQUESTS while this IP or this email has used up its failed logins. */
  assertLoginAllowed(ip: string, email: string): Promise<void>;
  loginFailed(ip: string, email: string): Promise<void>;
  /** A successful login clears the email's failures (not the IP's). */
  loginSucceeded(email: string): Promise<void>;
  /** Counts a registration attempt; throws TOO_MANY_REQUESTS past the limit. */
  consumeRegister(ip: string, email: string): Promise<void>;
};

// Emails are personal data: Redis keys carry a digest, never the address.
const emailKey = (email: string) => createHash("sha256").update(email).digest("hex").slice(0, 32);

/**
 * Counters in Redis (shared by every web instance), under `<REDIS_PREFIX>:rl:<name>`. When Redis is
 * unreachable each limiter falls back to an in-process one instead of failing or letting everything in.
 */
export function createAuthRateLimiter(
  redis: RedisClient,
  prefix: string,
  settings: RateLimitSettings,
): AuthRateLimiter {
  const limiter = (name: string, rule: RateLimitRule) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}:rl:${name}`,
      points: rule.points,
      duration: rule.durationSeconds,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ points: rule.points, duration: rule.durationSeconds }),
    });
  const loginEmail = limiter("login-email", settings.loginFailuresPerEmail);
  const loginIp = limiter("login-ip", settings.loginFailuresPerIp);
  const registerIp = limiter("register-ip", settings.registerPerIp);
  const registerEmail = limiter("register-email", settings.registerPerEmail);

  const exhausted = async (rl: RateLimiterRedis, key: string) => {
    const state = await rl.get(key);
    return state !== null && state.consumedPoints >= rl.points ? state.msBeforeNext : undefined;
  };
  /** Consumes a point from each; rethrows a refusal as 429 with the longest wait. */
  const consumeAll = async (pairs: Array<[RateLimiterRedis, string]>, what: string) => {
    const results = await Promise.allSettled(pairs.map(([rl, key]) => rl.consume(key)));
    let waitMs: number | undefined;
    for (const result of results) {
      if (result.status === "fulfilled") continue;
      if (!(result.reason instanceof RateLimiterRes)) throw result.reason;
      waitMs = Math.max(waitMs ?? 0, result.reason.msBeforeNext);
    }
    if (waitMs !== undefined) throw tooManyRequests(waitMs, what);
  };

  return {
    async assertLoginAllowed(ip, email) {
      const waits = await Promise.all([exhausted(loginIp, ip), exhausted(loginEmail, emailKey(email))]);
      const waitMs = waits.reduce<number | undefined>(
        (max, ms) => (ms === undefined ? max : Math.max(max ?? 0, ms)),
        undefined,
      );
      if (waitMs !== undefined) throw tooManyRequests(waitMs, "failed sign-in attempts");
    },
    async loginFailed(ip, email) {
      // The attempt is already refused with 401; a limit reached here shows on the next attempt.
      await Promise.allSettled([loginIp.consume(ip), loginEmail.consume(emailKey(email))]);
    },
    async loginSucceeded(email) {
      await loginEmail.delete(emailKey(email));
    },
    async consumeRegister(ip, email) {
      await consumeAll(
        [
          [registerIp, ip],
          [registerEmail, emailKey(email)],
        ],
        "registration attempts",
      );
    },
  };
}
