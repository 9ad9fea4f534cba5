import { createHash } from "node:crypto";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { serviceUnavailable, tooManyRequests } from "../errors.ts";

export type RateLimitRule = { points: number; durationSeconds: number };

export type RateLimitSettings = {
  /** Password checks for one email from one client IP within the window: the guessing limit. */
  loginAttemptsPerEmailAndIp: RateLimitRule;
  /** Password checks from one IP within the window, any emails (spraying one password over many). */
  loginAttemptsPerIp: RateLimitRule;
  /**
   * The per-email backstop against guessing from many IPs: past this many checks in the window each
   * further check must wait a delay that doubles per attempt (capped), never a hard lock-out.
   */
  loginAttemptsPerEmail: RateLimitRule;
  /** The first and the largest backstop delay. */
  loginBackstopDelayMs: { first: number; max: number };
  /** Registration attempts from one IP. */
  registerPerIp: RateLimitRule;
  /** Registration attempts for one email. */
  registerPerEmail: RateLimitRule;
};

export const defaultRateLimits: RateLimitSettings = {
  loginAttemptsPerEmailAndIp: { points: 5, durationSeconds: 15 * 60 },
  loginAttemptsPerIp: { points: 50, durationSeconds: 15 * 60 },
  loginAttemptsPerEmail: { points: 50, durationSeconds: 60 * 60 },
  loginBackstopDelayMs: { first: 1000, max: 60_000 },
  registerPerIp: { points: 50, durationSeconds: 60 * 60 },
  registerPerEmail: { points: 5, durationSeconds: 60 * 60 },
};

export type AuthRateLimiter = {
  /**
   * Spends one password check for (IP, email) before the hash is looked at; throws TOO_MANY_REQUESTS
   * (nothing spent) when a limit is reached. Atomic in Redis: parallel requests cannot overdraw it.
   */
  consumeLoginAttempt(ip: string, email: string): Promise<void>;
  /** The right password: this (IP, email) pair starts afresh; the IP and the email get the attempt back. */
  loginSucceeded(ip: string, email: string): Promise<void>;
  /** Counts a registration attempt; throws TOO_MANY_REQUESTS past the limit. */
  consumeRegister(ip: string, email: string): Promise<void>;
};

// Emails are personal data: Redis keys carry a digest, never the address.
const digest = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 32);

/**
 * One round trip, run atomically by Redis: check every counter, and only when all allow the attempt
 * increment them all. KEYS: pair, ip, email, email-next (when the next backstop attempt may run).
 * ARGV: the three limits and windows (s), now (ms), first and max backstop delay (ms).
 * Returns 0 when allowed, else the milliseconds to wait.
 */
const CONSUME_LOGIN_SCRIPT = `
local pairLimit, pairWindow = tonumber(ARGV[1]), tonumber(ARGV[2])
local ipLimit, ipWindow = tonumber(ARGV[3]), tonumber(ARGV[4])
local emailLimit, emailWindow = tonumber(ARGV[5]), tonumber(ARGV[6])
local now, firstDelay, maxDelay = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local function wait(key)
  local ttl = redis.call('PTTL', key)
  if ttl < 1 then return 1 end
  return ttl
end
local pair = tonumber(redis.call('GET', KEYS[1]) or '0')
if pair >= pairLimit then return wait(KEYS[1]) end
local ip = tonumber(redis.call('GET', KEYS[2]) or '0')
if ip >= ipLimit then return wait(KEYS[2]) end
local email = tonumber(redis.call('GET', KEYS[3]) or '0')
if email >= emailLimit then
  local nextAt = tonumber(redis.call('GET', KEYS[4]) or '0')
  if now < nextAt then return nextAt - now end
end
local function bump(key, window)
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, window) end
end
bump(KEYS[1], pairWindow)
bump(KEYS[2], ipWindow)
bump(KEYS[3], emailWindow)
local over = email + 1 - emailLimit
if over > 0 then
  local delay = math.min(maxDelay, firstDelay * 2 ^ (over - 1))
  redis.call('SET', KEYS[4], now + delay, 'PX', emailWindow * 1000)
end
return 0
`;

/** A right password is no guess: the pair starts afresh, the IP and email get their attempt back. */
const LOGIN_SUCCEEDED_SCRIPT = `
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
`;

type LoginScript = (
  pairKey: string,
  ipKey: string,
  emailKey: string,
  emailNextKey: string,
  ...args: number[]
) => Promise<number>;

/**
 * Counters in Redis (shared by every web instance), under `<REDIS_PREFIX>:rl:<name>`. Login attempts
 * fail closed: without Redis no password is checked (503 from the API layer). Registrations fall back
 * to an in-process limiter.
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
  const registerIp = limiter("register-ip", settings.registerPerIp);
  const registerEmail = limiter("register-email", settings.registerPerEmail);

  // One script touches all four counters, and a Redis Cluster runs a script only on keys of one hash
  // slot: the `{<prefix>}` hash tag (the one BullMQ's keys use too) puts every login counter in one
  // slot. Login traffic is light, so one shard carries it easily.
  const loginKeys = (ip: string, email: string) => {
    const emailDigest = digest(email);
    const tag = `{${prefix}}:rl`;
    return [
      `${tag}:login-pair:${digest(`${ip}\n${email}`)}`,
      `${tag}:login-ip:${digest(ip)}`,
      `${tag}:login-email:${emailDigest}`,
      `${tag}:login-email-next:${emailDigest}`,
    ] as const;
  };
  const consumeLogin = (...args: Parameters<LoginScript>) =>
    redis.eval(CONSUME_LOGIN_SCRIPT, 4, ...args) as Promise<number>;

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

  const { loginAttemptsPerEmailAndIp: pair, loginAttemptsPerIp: perIp } = settings;
  const { loginAttemptsPerEmail: perEmail, loginBackstopDelayMs: delay } = settings;
  return {
    async consumeLoginAttempt(ip, email) {
      const waitMs = await consumeLogin(
        ...loginKeys(ip, email),
        pair.points,
        pair.durationSeconds,
        perIp.points,
        perIp.durationSeconds,
        perEmail.points,
        perEmail.durationSeconds,
        Date.now(),
        delay.first,
        delay.max,
      ).catch((error: unknown) => {
        // Without the counter no password is checked: guessing must not get easier while Redis is away.
        throw serviceUnavailable(error);
      });
      if (waitMs > 0) throw tooManyRequests(waitMs, "sign-in attempts");
    },
    async loginSucceeded(ip, email) {
      const [pairKey, ipKey, emailKey] = loginKeys(ip, email);
      await redis.eval(LOGIN_SUCCEEDED_SCRIPT, 3, pairKey, ipKey, emailKey);
    },
    async consumeRegister(ip, email) {
      await consumeAll(
        [
          [registerIp, ip],
          [registerEmail, digest(email)],
        ],
        "registration attempts",
      );
    },
  };
}
