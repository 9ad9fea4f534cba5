import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config.ts";
import {
  createRedisClient,
  describeRedisTarget,
  isClusterTarget,
  masters,
  seedNodeTargets,
  type RedisClient,
  type RedisTarget,
} from "./redis-client.ts";
import type { Logger } from "../logger.ts";
import { InfraError, portFromEnv, reason, safeUrl, startServerProcess, waitUntilAnswers } from "./common.ts";

export type RedisSource = "configured" | "local" | "embedded" | "cluster";

export interface ResolvedRedis {
  url: string;
  source: RedisSource;
  /** Stops the redis-server this process started; otherwise does nothing. */
  stop(): Promise<void>;
}

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
export const DEFAULT_EMBEDDED_REDIS_PORT = 6390;

const HOW_TO_GET_REDIS =
  "Install Redis (apt-get install redis-server, brew install redis) or run one " +
  "(docker run -p 6379:6379 redis:7), or set REDIS_URL to a Redis that answers";

const nothingToStop = async () => {};

/**
 * Picks Redis: a configured REDIS_URL must answer (never a silent switch), with none the default URL if it
 * answers, else (or with REDIS_URL=embedded) a redis-server from the PATH with its data under DATA_DIR.
 */
export async function resolveRedis(
  config: Pick<Config, "DATA_DIR"> & RedisTarget,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<ResolvedRedis> {
  if (isClusterTarget(config)) {
    const problem = await pingCluster(config);
    if (problem !== undefined) {
      throw new InfraError(
        `REDIS_CLUSTER_NODES (${describeRedisTarget(config)}) is not a working Redis Cluster: ${problem}. ` +
          "Start that cluster or fix REDIS_CLUSTER_NODES (it wins over REDIS_URL), or unset it.",
      );
    }
    return { url: config.REDIS_URL, source: "cluster", stop: nothingToStop };
  }
  // The config fills in the default URL, so only the raw environment tells whether one was configured.
  const raw = env.REDIS_URL?.trim();
  if (raw && raw !== "embedded") {
    const problem = await ping(config);
    if (problem !== undefined) {
      throw new InfraError(
        `REDIS_URL (${safeUrl(config.REDIS_URL)}) cannot be reached: ${problem}. ` +
          "Start that Redis or fix REDIS_URL, or unset it to use a local Redis or one started from redis-server.",
      );
    }
    return { url: config.REDIS_URL, source: "configured", stop: nothingToStop };
  }
  if (!raw) {
    const problem = await ping({ REDIS_URL: DEFAULT_REDIS_URL, REDIS_PASSWORD: config.REDIS_PASSWORD });
    if (problem === undefined) return { url: DEFAULT_REDIS_URL, source: "local", stop: nothingToStop };
    log.info({ problem }, `no Redis answers at ${DEFAULT_REDIS_URL}; starting redis-server`);
  }
  const port = portFromEnv(env, "EMBEDDED_REDIS_PORT", DEFAULT_EMBEDDED_REDIS_PORT);
  return startEmbedded(path.resolve(config.DATA_DIR, "redis"), port, log);
}

/**
 * Warns when Redis may evict keys: queued jobs and locks would silently disappear under memory pressure.
 * In a cluster every master is asked (a replica takes its policy from its own config, and becomes a
 * master at a failover, so the operator must set it everywhere; the masters are what we can see now).
 */
export async function checkRedisPolicy(redis: RedisClient, log: Logger): Promise<void> {
  for (const node of masters(redis)) {
    const where = `${node.options.host ?? "?"}:${node.options.port ?? "?"}`;
    try {
      const reply: unknown = await node.config("GET", "maxmemory-policy");
      const policy = Array.isArray(reply)
        ? reply[1]
        : (reply as Record<string, unknown> | null)?.["maxmemory-policy"];
      if (policy !== "noeviction") {
        log.warn(
          { policy, node: where },
          "Redis maxmemory-policy is not noeviction: under memory pressure it may drop queued jobs; " +
            "set maxmemory-policy noeviction",
        );
      }
    } catch (err) {
      log.warn(
        { err, node: where },
        "could not read Redis maxmemory-policy (CONFIG disabled?); make sure it is noeviction",
      );
    }
  }
}

/**
 * Undefined when the cluster answers and says `cluster_state:ok` (every slot served), else why not.
 * Exported for readiness-style probes; the cluster, then its seeds, each bounded by `timeoutMs`.
 */
export async function pingCluster(target: RedisTarget, timeoutMs = 5_000): Promise<string | undefined> {
  let connected = false;
  const cluster = createRedisClient(target, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    clusterRetryStrategy: () => null,
  });
  let cause: unknown;
  cluster.on("error", (error) => (cause ??= error));
  // A node the cluster announces that is no seed and cannot be reached: a NAT or cluster-announce-ip
  // mistake shows here, and only here (the seeds' own errors are `seedProblem`'s).
  const seeds = isClusterTarget(target) ? seedNodeTargets(target) : [];
  let announcedCause: string | undefined;
  cluster.on("node error", (error: unknown, node: string) => {
    if (!seeds.some((seed) => seed.where === node))
      announcedCause ??= `node ${node}, as the cluster announces it: ${reason(error)}`;
  });
  try {
    // ioredis's connect() never settles when the ready check fails after the slots were read (every
    // announced node unreachable, the cluster closes for good): its end, or the deadline, stops the wait.
    let stop: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      cluster.connect(),
      new Promise<never>((_, reject) => {
        cluster.once("end", () => reject(new Error("the cluster closed every connection")));
        stop = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(stop));
    connected = true;
    const info = await cluster.cluster("INFO");
    const state = /cluster_state:(\w+)/.exec(String(info))?.[1];
    if (state !== "ok") return `cluster_state is ${state ?? "unknown"}`;
    await Promise.all(masters(cluster).map((node) => node.ping()));
    return undefined;
  } catch (error) {
    // Unreached, the cluster only says "Failed to refresh slots cache": ioredis drops each node's own
    // connection error (a refused certificate, a refused connection, a wrong password).
    const seed = !connected && seeds.length > 0 ? await seedProblem(seeds, timeoutMs) : undefined;
    return seed ?? announcedCause ?? reason(cause ?? error);
  } finally {
    cluster.disconnect();
  }
}

/**
 * When no seed node answers on its own, why not, node by node: its PING, or its CLUSTER INFO (a Redis
 * that is no cluster answers PING and refuses that). Undefined when any seed answers: the cluster client
 * needs only one, so the trouble is elsewhere, and a dead seed beside it must not take the blame.
 */
async function seedProblem(seeds: ReturnType<typeof seedNodeTargets>, ms: number) {
  // Side by side: one step of `ms` at most, however many seeds there are.
  const problems = await Promise.all(seeds.map((seed) => ping(seed.target, ms, "CLUSTER INFO")));
  if (problems.some((problem) => problem === undefined)) return undefined;
  return seeds.map((seed, i) => `node ${seed.where}: ${problems[i]!}`).join("; ");
}

/**
 * A client of one server that fails fast. `target` carries REDIS_PASSWORD and REDIS_TLS_CA, as the
 * processes will use them (a Redis this launcher starts has neither).
 */
function probeClient(target: RedisTarget, timeoutMs: number) {
  const redis = createRedisClient(target, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The failed command only says "Connection is closed"; the connection's own error says why.
  let cause: unknown;
  redis.on("error", (error) => (cause ??= error));
  return { redis, cause: () => cause };
}

/** Undefined when Redis answers PING (and, asked for, CLUSTER INFO), else why not. */
async function ping(
  target: RedisTarget,
  timeoutMs = 2_000,
  also?: "CLUSTER INFO",
): Promise<string | undefined> {
  const { redis, cause } = probeClient(target, timeoutMs);
  try {
    await redis.connect();
    await redis.ping();
    if (also) await redis.cluster("INFO");
    return undefined;
  } catch (error) {
    return reason(cause() ?? error);
  } finally {
    redis.disconnect();
  }
}

async function serverPid(url: string): Promise<number | undefined> {
  const { redis } = probeClient({ REDIS_URL: url }, 1_000);
  try {
    await redis.connect();
    return Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1]);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** The data directory of the Redis answering at `url`, or undefined when none answers. */
async function runningDirectory(url: string): Promise<string | undefined> {
  const { redis } = probeClient({ REDIS_URL: url }, 2_000);
  try {
    await redis.connect();
    const reply = (await redis.config("GET", "dir")) as unknown;
    return Array.isArray(reply) ? String(reply[1]) : String((reply as Record<string, unknown>).dir);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

async function sameDirectory(a: string, b: string) {
  const real = (p: string) => fs.realpath(p).catch(() => path.resolve(p));
  return (await real(a)) === (await real(b));
}

async function startEmbedded(dir: string, port: number, log: Logger): Promise<ResolvedRedis> {
  const url = `redis://127.0.0.1:${port}`;
  const reused = { url, source: "embedded" as const, stop: nothingToStop };

  // Another launcher may have started it already: share it and leave it running.
  const running = await runningDirectory(url);
  if (running !== undefined) {
    if (!(await sameDirectory(running, dir))) {
      throw new InfraError(
        `port ${port} already serves a Redis with another data directory (${running}); ` +
          "set EMBEDDED_REDIS_PORT to a free port",
      );
    }
    log.info({ port, dir }, "reusing the redis-server another launcher started");
    return reused;
  }

  await fs.mkdir(dir, { recursive: true });
  const args = [
    ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir],
    ...["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
    ...["--maxmemory-policy", "noeviction"],
  ];
  // SIGTERM makes Redis flush its append-only file and exit.
  const server = startServerProcess("redis-server", args, {
    log,
    label: "redis",
    stopSignal: "SIGTERM",
    forceSignal: "SIGKILL",
    graceMs: 10_000,
  });
  try {
    // Ours must answer, not a redis-server another launcher started a moment earlier on that port.
    await waitUntilAnswers(server, async () => (await serverPid(url)) === server.child.pid, {
      timeoutMs: 15_000,
      what: `redis-server on port ${port}`,
    });
  } catch (error) {
    if (server.spawnErrorCode() === "ENOENT") {
      throw new InfraError(`no Redis answers and redis-server is not on the PATH. ${HOW_TO_GET_REDIS}.`);
    }
    const now = await runningDirectory(url);
    // Two launchers starting at once: the other one got the port.
    if (now !== undefined && (await sameDirectory(now, dir))) {
      log.info({ port, dir }, "reusing the redis-server another launcher started");
      return reused;
    }
    throw error;
  }
  log.info({ port, dir }, "redis-server started");
  let stopped: Promise<void> | undefined;
  return {
    url,
    source: "embedded",
    stop: () => (stopped ??= server.stop().then(() => log.info("redis-server stopped"))),
  };
}
