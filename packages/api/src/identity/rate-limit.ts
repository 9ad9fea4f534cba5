import { createHash } from "node:crypto";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import { LUA_INTEGER } from "@gozon/core/infra/redis-lua";
import ipaddr from "ipaddr.js";
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
  /**
   * Password checks by one device cookie within the window (OWASP's device cookies). A browser that
   * signed in as the email before (its `gozon_dev` cookie names that email) is spared the per-email
   * backstop, so guessing from many IPs cannot keep the owner out; its attempts are counted per cookie
   * instead, and a right password starts the count afresh. Past the limit the cookie is not trusted
   * until the window ends: its attempts then fall under the backstop like anyone's. The per-IP and
   * per-pair limits apply either way.
   */
  loginAttemptsPerDevice: RateLimitRule;
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
  loginAttemptsPerDevice: { points: 10, durationSeconds: 60 * 60 },
  registerPerIp: { points: 50, durationSeconds: 60 * 60 },
  registerPerEmail: { points: 5, durationSeconds: 60 * 60 },
};

/** What a login attempt was counted under, for `loginSucceeded`. */
export type LoginAttempt = {
  /** The nonce of the device cookie the attempt was counted under instead of the email, else null. */
  device: string | null;
};

export type AuthRateLimiter = {
  /**
   * Spends one password check for (IP, email) before the hash is looked at; throws TOO_MANY_REQUESTS
   * (nothing spent) when a limit is reached. Atomic in Redis: parallel requests cannot overdraw it.
   * `device` is the nonce of a valid device cookie for this email (see `loginAttemptsPerDevice`).
   */
  consumeLoginAttempt(ip: string, email: string, device?: string | null): Promise<LoginAttempt>;
  /**
   * The right password: this (IP, email) pair starts afresh, and so does the device cookie the attempt
   * was counted under; the IP and the email get the attempt back.
   */
  loginSucceeded(ip: string, email: string, attempt: LoginAttempt): Promise<void>;
  /** Counts a registration attempt; throws TOO_MANY_REQUESTS past the limit. */
  consumeRegister(ip: string, email: string): Promise<void>;
};

// Emails are personal data: Redis keys carry a digest, never the address.
/** How a counter's key names an IP, an email or a device (exported for tests that reach the counters). */
export const digest = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 32);

/**
 * One round trip, run atomically by Redis: check every counter, and only when all allow the attempt
 * increment them all. KEYS: pair, ip, email, email-next (when the next backstop attempt may run), and
 * the device cookie's counter when the attempt carries a valid one for this email.
 * ARGV: the three limits and windows (s), now (ms), first and max backstop delay (ms), the device
 * cookie's limit and window (s).
 * Returns {0, 1} when allowed under the device cookie (instead of the email), {0, 0} when allowed under
 * the email, else {the milliseconds to wait, 0}.
 */
const CONSUME_LOGIN_SCRIPT = `${LUA_INTEGER}
local pairLimit, pairWindow = tonumber(ARGV[1]), tonumber(ARGV[2])
local ipLimit, ipWindow = tonumber(ARGV[3]), tonumber(ARGV[4])
local emailLimit, emailWindow = tonumber(ARGV[5]), tonumber(ARGV[6])
local now, firstDelay, maxDelay = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local deviceLimit, deviceWindow = tonumber(ARGV[10]), tonumber(ARGV[11])
local function wait(key)
  local ttl = redis.call('PTTL', key)
  if ttl < 1 then return 1 end
  return ttl
end
local function bump(key, window)
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, window) end
end
-- A counter is an integer with an expiry, as bump writes it. Anything else under its key (written by
-- another hand: a hash, a word, no expiry) is dropped: it could otherwise fail every sign-in, or hold one
-- off for good. Its type is asked first, since GET on a hash or a list fails the whole script, and its
-- text must be digits as INCR writes them (integer, above).
local function count(key)
  local kind = redis.call('TYPE', key).ok
  if kind == 'none' then return 0 end
  local raw = kind == 'string' and redis.call('GET', key)
  if raw and integer(raw) and redis.call('PTTL', key) > 0 then return tonumber(raw) end
  redis.call('DEL', key)
  return 0
end
local pair = count(KEYS[1])
if pair >= pairLimit then return {wait(KEYS[1]), 0} end
local ip = count(KEYS[2])
if ip >= ipLimit then return {wait(KEYS[2]), 0} end
local device = KEYS[5]
if device and count(device) < deviceLimit then
  -- A browser that signed in as this email before: counted per cookie, not against the email.
  bump(KEYS[1], pairWindow)
  bump(KEYS[2], ipWindow)
  bump(device, deviceWindow)
  return {0, 1}
end
local email = count(KEYS[3])
if email >= emailLimit then
  local nextAt = count(KEYS[4])
  if now < nextAt then return {nextAt - now, 0} end
end
bump(KEYS[1], pairWindow)
bump(KEYS[2], ipWindow)
bump(KEYS[3], emailWindow)
local over = email + 1 - emailLimit
if over > 0 then
  local delay = math.min(maxDelay, firstDelay * 2 ^ (over - 1))
  redis.call('SET', KEYS[4], now + delay, 'PX', emailWindow * 1000)
end
return {0, 0}
`;

/**
 * A right password is no guess: the pair starts afresh, the IP gets its attempt back, and so does the
 * email (KEYS[3]) or, when the attempt was counted under a device cookie, that cookie starts afresh.
 * ARGV[1]: 1 when KEYS[3] is the device cookie's counter.
 */
const LOGIN_SUCCEEDED_SCRIPT = `${LUA_INTEGER}
local function positive(key)
  if redis.call('TYPE', key).ok ~= 'string' then return false end
  local raw = redis.call('GET', key)
  return raw ~= '0' and integer(raw)
end
redis.call('DEL', KEYS[1])
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[3])
elseif positive(KEYS[3]) then
  redis.call('DECR', KEYS[3])
end
if positive(KEYS[2]) then redis.call('DECR', KEYS[2]) end
return 0
`;

/**
 * The client an address counts as: an IPv4 address itself (an IPv4-mapped IPv6 one too), an IPv6 one its
 * /64. A host on IPv6 is given at least a /64 and may take any address in it (privacy addresses change
 * by themselves), so counted per address it would get a fresh budget with each one.
 */
export function rateLimitSubject(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === "ipv4") return address.toString();
  const network = (address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${network.join(":")}::/64`;
}

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

  // One script touches all the counters, and a Redis Cluster runs a script only on keys of one hash
  // slot: the `{<prefix>}` hash tag (the one BullMQ's keys use too) puts every login counter in one
  // slot. Login traffic is light, so one shard carries it easily.
  const tag = `{${prefix}}:rl`;
  const loginKeys = (address: string, email: string) => {
    const ip = rateLimitSubject(address);
    const emailDigest = digest(email);
    return [
      `${tag}:login-pair:${digest(`${ip}\n${email}`)}`,
      `${tag}:login-ip:${digest(ip)}`,
      `${tag}:login-email:${emailDigest}`,
      `${tag}:login-email-next:${emailDigest}`,
    ] as const;
  };
  const deviceKey = (nonce: string) => `${tag}:login-device:${digest(nonce)}`;

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
  const { loginAttemptsPerDevice: perDevice } = settings;
  return {
    async consumeLoginAttempt(ip, email, device) {
      const keys = [...loginKeys(ip, email), ...(device ? [deviceKey(device)] : [])];
      const [waitMs, viaDevice] = (await redis
        .eval(
          CONSUME_LOGIN_SCRIPT,
          keys.length,
          ...keys,
          pair.points,
          pair.durationSeconds,
          perIp.points,
          perIp.durationSeconds,
          perEmail.points,
          perEmail.durationSeconds,
          Date.now(),
          delay.first,
          delay.max,
          perDevice.points,
          perDevice.durationSeconds,
        )
        .catch((error: unknown) => {
          // Without the counter no password is checked: guessing must not get easier while Redis is away.
          throw serviceUnavailable(error);
        })) as [number, number];
      if (waitMs > 0) throw tooManyRequests(waitMs, "sign-in attempts");
      return { device: viaDevice === 1 && device ? device : null };
    },
    async loginSucceeded(ip, email, attempt) {
      const [pairKey, ipKey, emailKey] = loginKeys(ip, email);
      const third = attempt.device ? deviceKey(attempt.device) : emailKey;
      await redis.eval(LOGIN_SUCCEEDED_SCRIPT, 3, pairKey, ipKey, third, attempt.device ? 1 : 0);
    },
    async consumeRegister(ip, email) {
      await consumeAll(
        [
          [registerIp, rateLimitSubject(ip)],
          [registerEmail, digest(email)],
        ],
        "registration attempts",
      );
    },
  };
}
