import { Redis } from "ioredis";
import { serviceDatabaseUrls, type Config } from "@gozon/core/config";
import { createLogger, type Logger } from "@gozon/core/logger";
import { createIdentityClient, type IdentityClient } from "@gozon/db/clients";
import {
  createAuthRateLimiter,
  defaultRateLimits,
  type AuthRateLimiter,
  type RateLimitSettings,
} from "./identity/rate-limit.ts";
import {
  createAccessTokens,
  createRefreshTokens,
  type AccessTokens,
  type RefreshTokens,
} from "./identity/tokens.ts";

/** What an admin sees of a user's account in `admin.findUsers`. */
export type AccountSummary = { userId: string; balance: number };

/** Looks up the accounts of several users at once; a user without an account is simply absent. */
export type AccountsOf = (userIds: readonly string[]) => Promise<ReadonlyMap<string, AccountSummary>>;

/** Everything the procedures need, built once per process and shared by every request. */
export type ApiDeps = {
  config: Config;
  log: Logger;
  identityDb: IdentityClient;
  redis: Redis;
  /** The clock of tokens and expiries (tests move it forward). */
  now: () => Date;
  /** Trust `X-Forwarded-For` for the client IP (set it only behind a proxy that overwrites the header). */
  trustProxy: boolean;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  rateLimiter: AuthRateLimiter;
  /** Accounts of users, for admin views. The payments service provides it; by default nobody has one. */
  accountsOf: AccountsOf;
  /** Closes what `createApiDeps` opened (not what the caller passed in). */
  close: () => Promise<void>;
};

export type ApiDepsOptions = {
  log?: Logger;
  identityDb?: IdentityClient;
  redis?: Redis;
  now?: () => Date;
  trustProxy?: boolean;
  accountsOf?: AccountsOf;
  rateLimits?: Partial<RateLimitSettings>;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
};

export const ACCESS_TOKEN_TTL_SECONDS = 10 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60;

const noAccounts: AccountsOf = async () => new Map();

export function createApiDeps(config: Config, options: ApiDepsOptions = {}): ApiDeps {
  const closers: Array<() => Promise<unknown>> = [];
  const log = options.log ?? createLogger("api", config.LOG_LEVEL);
  const now = options.now ?? (() => new Date());

  let identityDb = options.identityDb;
  if (!identityDb) {
    const client = createIdentityClient(serviceDatabaseUrls(config).identity);
    closers.push(() => client.$disconnect());
    identityDb = client;
  }

  let redis = options.redis;
  if (!redis) {
    if (config.REDIS_URL === "embedded") {
      throw new Error("REDIS_URL=embedded must be resolved to a redis:// URL before the API starts");
    }
    const client = new Redis(config.REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 3 });
    client.on("error", (error: Error) => log.warn({ err: error.message }, "redis connection error"));
    closers.push(() => client.quit().catch(() => client.disconnect()));
    redis = client;
  }

  return {
    config,
    log,
    identityDb,
    redis,
    now,
    trustProxy: options.trustProxy ?? false,
    accessTokens: createAccessTokens({
      secret: config.JWT_SECRET,
      ttlSeconds: options.accessTokenTtlSeconds ?? ACCESS_TOKEN_TTL_SECONDS,
      now,
    }),
    refreshTokens: createRefreshTokens({
      db: identityDb,
      ttlSeconds: options.refreshTokenTtlSeconds ?? REFRESH_TOKEN_TTL_SECONDS,
      now,
      log,
    }),
    rateLimiter: createAuthRateLimiter(redis, config.REDIS_PREFIX, {
      ...defaultRateLimits,
      ...options.rateLimits,
    }),
    accountsOf: options.accountsOf ?? noAccounts,
    close: async () => {
      await Promise.allSettled(closers.reverse().map((close) => close()));
    },
  };
}

export function closeApiDeps(deps: ApiDeps): Promise<void> {
  return deps.close();
}
