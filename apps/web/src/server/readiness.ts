import pg from "pg";
import type { ServiceDatabaseUrls } from "@gozon/core/config";
import type { Logger } from "@gozon/core/logger";
import { createRedisClient, isCluster, masters, type RedisTarget } from "@gozon/core/infra/redis-client";

class CheckTimeout extends Error {}

/**
 * Each part's state. A failure says only which part and how (unreachable or too slow): the driver's
 * message (host names, user names, versions) is for the log, never for an unauthenticated caller.
 */
export type ReadinessReport = { ready: boolean; checks: Record<string, "ok" | "unavailable" | "timed out"> };

const CHECK_TIMEOUT_MS = 2000;

/**
 * Pings each service database and Redis; each check gets its own connection so one outage names itself.
 * `states` are parts of the process itself, ready or not (e.g. the revoked sessions loaded).
 */
export function createReadiness(
  urls: ServiceDatabaseUrls,
  redisTarget: string | RedisTarget,
  log?: Logger,
  states: Record<string, () => boolean> = {},
) {
  const pools = Object.entries(urls).map(
    ([service, connectionString]) =>
      [
        service,
        new pg.Pool({
          connectionString,
          max: 1,
          connectionTimeoutMillis: CHECK_TIMEOUT_MS,
          idleTimeoutMillis: 10_000,
        }),
      ] as const,
  );
  for (const [, pool] of pools) pool.on("error", () => {}); // an idle client dying is reported by the next check
  // No offline queue: while Redis is down a PING must fail now, not wait for a reconnect.
  const redis = createRedisClient(
    typeof redisTarget === "string" ? { REDIS_URL: redisTarget } : redisTarget,
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    },
  );
  redis.on("error", () => {});

  const withTimeout = <T>(promise: Promise<T>) =>
    Promise.race([
      promise,
      new Promise<never>((_, reject) => setTimeout(() => reject(new CheckTimeout()), CHECK_TIMEOUT_MS)),
    ]);

  const check = async (part: string, run: () => Promise<unknown>) => {
    try {
      await withTimeout(run());
      return "ok" as const;
    } catch (error) {
      const timedOut = error instanceof CheckTimeout;
      log?.warn({ part, err: timedOut ? undefined : error }, "readiness check failed");
      return timedOut ? ("timed out" as const) : ("unavailable" as const);
    }
  };

  return {
    async report(): Promise<ReadinessReport> {
      const entries = await Promise.all([
        ...pools.map(async ([service, pool]) => [
          `${service}Db`,
          await check(`${service}Db`, () => pool.query("SELECT 1")),
        ]),
        (async () => [
          "redis",
          await check("redis", async () => {
            if (redis.status === "wait" || redis.status === "end") await redis.connect();
            if (!isCluster(redis)) return redis.ping();
            // A cluster is ready when it serves every slot and each master answers.
            const state = /cluster_state:(\w+)/.exec(String(await redis.cluster("INFO")))?.[1];
            if (state !== "ok") throw new Error(`cluster_state is ${state ?? "unknown"}`);
            await Promise.all(masters(redis).map((node) => node.ping()));
          }),
        ])(),
        ...Object.entries(states).map(([part, ready]) => [part, ready() ? "ok" : "unavailable"]),
      ]);
      const checks = Object.fromEntries(entries) as ReadinessReport["checks"];
      return { ready: Object.values(checks).every((v) => v === "ok"), checks };
    },
    async close() {
      redis.disconnect();
      await Promise.all(pools.map(([, pool]) => pool.end()));
    },
  };
}
