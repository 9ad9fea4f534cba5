import { createRedisClient, type RedisClient } from "@gozon/core/infra/redis-client";
import { Counter, createRegistry, type Registry } from "@gozon/core/metrics";
import { createBalanceEventBus, type BalanceEventBus } from "./live/balance-feed.ts";
import { createOrderEventBus, type OrderEventBus } from "./live/order-event-bus.ts";
import { serviceDatabaseUrls, type Config } from "@gozon/core/config";
import { createLogger, type Logger } from "@gozon/core/logger";
import { createIdentityClient, type IdentityClient } from "@gozon/db/clients";
import { createEmailDirectory, type EmailDirectory } from "./identity/email-directory.ts";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createOrderPlacer } from "@gozon/orders/create-order";
import { createCommittedPublisher, createQueueProducers } from "@gozon/messaging/outbox-publisher";
import { bullPrefix } from "@gozon/messaging/queues";
import { messageKey, type MessageKey } from "@gozon/messaging/signing";
import { getAccounts } from "@gozon/payments/accounts";
import {
  createAuthRateLimiter,
  defaultRateLimits,
  type AuthRateLimiter,
  type RateLimitSettings,
} from "./identity/rate-limit.ts";
import { createDeviceTokens, type DeviceTokens } from "./identity/device-tokens.ts";
import { createRevokedSessions, type RevokedSessions } from "./identity/session-revocations.ts";
import { verifyPassword, type PasswordVerifier } from "./identity/passwords.ts";
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
  /** The payments service's database (accounts, ledger): touched only through `@gozon/payments`. */
  paymentsDb: SqlPool;
  /** The orders service's database: orders are written only through `@gozon/orders`. */
  ordersDb: SqlPool;
  /** Rate limits, and publishing on the order-events channel. */
  redis: RedisClient;
  /** What this process puts on a queue or a channel is signed under it, and what it reads is checked. */
  signingKey: MessageKey;
  /** The clock of tokens and expiries (tests move it forward). */
  now: () => Date;
  /** Trust `X-Forwarded-For` for the client IP (set it only behind a proxy that overwrites the header). */
  trustProxy: boolean;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  /** Device cookies: a browser that signed in as an email before is spared that email's login backstop. */
  deviceTokens: DeviceTokens;
  /** The sessions revoked on any instance (logout, refresh-token reuse, `revokeAllOf`), in memory. */
  revokedSessions: RevokedSessions;
  rateLimiter: AuthRateLimiter;
  /** The argon2 check of a login (every call is one expensive hash). */
  verifyPassword: PasswordVerifier;
  /** Accounts of users, for admin views: by default the payments service's `getAccounts`. */
  accountsOf: AccountsOf;
  /** Users' emails by id, for admin views whose rows carry only the id (the admin order feed). */
  emails: EmailDirectory;
  /** Prometheus registry of this process, and the API's own counters. */
  metrics: ApiMetrics;
  /**
   * Places an order (@gozon/orders/create-order's `createOrderPlacer`): concurrent orders share one insert,
   * and each payment request is published right after its commit (the orders relay is the fallback).
   */
  placeOrder: ReturnType<typeof createOrderPlacer>;
  /** This process's subscriber to the order-events channel, opened on first use by a subscription. */
  orderEvents: () => OrderEventBus;
  /** This process's subscriber to the balance-changes channel, opened on first use by a subscription. */
  balanceEvents: () => BalanceEventBus;
  /** Closes what `createApiDeps` opened (not what the caller passed in). */
  close: () => Promise<void>;
};

export type ApiMetrics = { registry: Registry; ordersCreated: Counter };

export type ApiDepsOptions = {
  log?: Logger;
  registry?: Registry;
  identityDb?: IdentityClient;
  paymentsDb?: SqlPool;
  ordersDb?: SqlPool;
  redis?: RedisClient;
  now?: () => Date;
  trustProxy?: boolean;
  accountsOf?: AccountsOf;
  rateLimits?: Partial<RateLimitSettings>;
  verifyPassword?: PasswordVerifier;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
};

export const ACCESS_TOKEN_TTL_SECONDS = 10 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60;

export function createApiDeps(config: Config, options: ApiDepsOptions = {}): ApiDeps {
  const closers: Array<() => Promise<unknown>> = [];
  const log = options.log ?? createLogger("api", config.LOG_LEVEL);
  const now = options.now ?? (() => new Date());

  const urls = serviceDatabaseUrls(config);
  /** The client passed in, or a new one that `close()` disconnects. */
  const own = <C extends { $disconnect(): Promise<void> }>(given: C | undefined, create: () => C): C => {
    if (given) return given;
    const client = create();
    closers.push(() => client.$disconnect());
    return client;
  };
  const identityDb = own(options.identityDb, () => createIdentityClient(urls.identity));
  // The orders and payments services speak raw SQL over `pg` (see @gozon/db/sql-client); identity uses
  // the Prisma client.
  const paymentsDb = own(options.paymentsDb, () => createSqlPool(urls.payments));
  const ordersDb = own(options.ordersDb, () => createSqlPool(urls.orders));

  let redis = options.redis;
  if (!redis) {
    if (config.REDIS_URL === "embedded" && !config.REDIS_CLUSTER_NODES) {
      throw new Error("REDIS_URL=embedded must be resolved to a redis:// URL before the API starts");
    }
    const client = createRedisClient(config, { lazyConnect: false, maxRetriesPerRequest: 3 });
    client.on("error", (error: Error) => log.warn({ err: error.message }, "redis connection error"));
    closers.push(() => client.quit().catch(() => client.disconnect()));
    redis = client;
  }

  const signingKey = messageKey(config.MESSAGE_SIGNING_KEY, config.MESSAGE_SIGNING_KEYS_ACCEPTED);
  const producers = createQueueProducers(redis, bullPrefix(config), log, signingKey);
  closers.push(() => producers.close());
  const requests = createCommittedPublisher({ db: ordersDb, producers, log });
  closers.push(() => requests.close());

  /** A per-process subscriber, opened by the first subscription that needs it and closed with the rest. */
  const openedOnFirstUse = <T extends { close(): Promise<void> }>(open: () => T) => {
    let opened: T | undefined;
    return () => {
      if (!opened) {
        const value = open();
        closers.push(() => value.close());
        opened = value;
      }
      return opened;
    };
  };
  const orderEventBus = openedOnFirstUse(() =>
    createOrderEventBus({
      redis: config,
      redisPrefix: config.REDIS_PREFIX,
      signingKey,
      db: ordersDb,
      log,
      pollMs: config.FEED_POLL_MS,
    }),
  );
  const accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? ACCESS_TOKEN_TTL_SECONDS;
  // Every request checks its token against this, so it starts with the process, not on first use.
  const revokedSessions = createRevokedSessions({
    db: identityDb,
    signingKey,
    redis,
    target: config,
    redisPrefix: config.REDIS_PREFIX,
    accessTokenTtlSeconds,
    now,
    log,
  });
  closers.push(() => revokedSessions.close());
  const balanceEventBus = openedOnFirstUse(() =>
    createBalanceEventBus({ redis: config, redisPrefix: config.REDIS_PREFIX, signingKey, log }),
  );

  return {
    config,
    log,
    identityDb,
    paymentsDb,
    ordersDb,
    redis,
    signingKey,
    now,
    trustProxy: options.trustProxy ?? false,
    accessTokens: createAccessTokens({
      secret: config.JWT_SECRET,
      ttlSeconds: accessTokenTtlSeconds,
      now,
    }),
    revokedSessions,
    deviceTokens: createDeviceTokens({ secret: config.JWT_SECRET, now }),
    refreshTokens: createRefreshTokens({
      db: identityDb,
      ttlSeconds: options.refreshTokenTtlSeconds ?? REFRESH_TOKEN_TTL_SECONDS,
      now,
      log,
      onRevoked: (revocation) => revokedSessions.revoke(revocation),
      grace: { redis, prefix: config.REDIS_PREFIX },
    }),
    rateLimiter: createAuthRateLimiter(redis, config.REDIS_PREFIX, {
      ...defaultRateLimits,
      ...options.rateLimits,
    }),
    verifyPassword: options.verifyPassword ?? verifyPassword,
    accountsOf: options.accountsOf ?? ((userIds) => getAccounts(paymentsDb, [...userIds])),
    emails: createEmailDirectory(identityDb),
    placeOrder: createOrderPlacer({ db: ordersDb, publish: (request) => requests.publish([request]) }),
    orderEvents: orderEventBus,
    balanceEvents: balanceEventBus,
    metrics: createApiMetrics(options.registry ?? createRegistry("web")),
    close: async () => {
      await Promise.allSettled(closers.reverse().map((close) => close()));
    },
  };
}

export function closeApiDeps(deps: ApiDeps): Promise<void> {
  return deps.close();
}

function createApiMetrics(registry: Registry): ApiMetrics {
  return {
    registry,
    ordersCreated: new Counter({
      name: "gozon_orders_created_total",
      help: "Order create requests answered with an order (idempotent replays included)",
      registers: [registry],
    }),
  };
}
