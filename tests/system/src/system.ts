// Starts the whole system as real processes — web instance(s), orders worker(s), payments worker(s) — on
// fresh databases and its own Redis key prefix, so a test can drive it over HTTP and kill any part of it.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startProcess, type RunningProcess } from "@gozon/core/testing";
import { loadRedisTarget, type Service } from "@gozon/core/config";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { deleteKeysAt, TEST_MESSAGE_SIGNING_KEY } from "@gozon/messaging/testing";
import { redisVariables, withoutRedisVariables, type RedisVariables } from "./redis-target.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export const ADMIN = { email: "admin@gozon.test", password: "admin-password-123" };

type WorkerKind = "orders-worker" | "payments-worker";
/** `orders-worker` is short for `orders-worker-1`, so single-worker tests read as before. */
export type PartName = WorkerKind | `${WorkerKind}-${number}` | `web-${number}`;
type InstanceName = Exclude<PartName, WorkerKind>;

type Part = { name: InstanceName; cwd: string; args: string[]; ready: RegExp; env: Record<string, string> };

export type SystemOptions = {
  webInstances?: number;
  ordersWorkers?: number;
  paymentsWorkers?: number;
  /**
   * The parts' Redis, as the variables they read (REDIS_URL, REDIS_PASSWORD, REDIS_TLS_CA as an absolute
   * path, REDIS_CLUSTER_NODES), in place of all of the environment's. Default: the environment's.
   */
  redis?: RedisVariables;
  /** Short for `redis: { REDIS_URL }`: a Redis of the caller's own (none of the environment's settings). */
  redisUrl?: string;
  /** Postgres servers by service (e.g. payments on a second server); the rest use the test server. */
  databaseServers?: Partial<Record<Service, string>>;
  /** Short for `redis: { REDIS_CLUSTER_NODES }` (`host:port,…`): a Redis Cluster of the caller's own. */
  redisClusterNodes?: string;
  env?: Record<string, string>;
};

export type System = Awaited<ReturnType<typeof startSystem>>;

const instanceName = (name: PartName): InstanceName =>
  name === "orders-worker" || name === "payments-worker" ? `${name}-1` : name;

export async function startSystem({
  webInstances = 1,
  ordersWorkers = 1,
  paymentsWorkers = 1,
  redis,
  redisUrl,
  redisClusterNodes,
  databaseServers,
  env = {},
}: SystemOptions = {}) {
  // The parts get these Redis variables and no others: a redis-server of the caller's own must not be
  // sent the environment's password or CA, nor lose to the environment's REDIS_CLUSTER_NODES.
  const ownRedis = redisUrl !== undefined || redisClusterNodes !== undefined;
  const partsRedis: RedisVariables =
    redis ??
    (ownRedis
      ? {
          ...(redisUrl !== undefined ? { REDIS_URL: redisUrl } : {}),
          ...(redisClusterNodes !== undefined ? { REDIS_CLUSTER_NODES: redisClusterNodes } : {}),
        }
      : redisVariables());
  // Read as the parts will read them, before anything is made: a bad setting stops the run here, and the
  // run's own connection (deleting its keys) reaches Redis as the parts do.
  const redisTarget = loadRedisTarget({ ...partsRedis, ...env });
  const dbs: TestDatabases = await createTestDatabases("system", { servers: databaseServers });
  const redisPrefix = env.REDIS_PREFIX ?? `test-sys-${randomBytes(4).toString("hex")}`;
  const common: Record<string, string> = {
    ORDERS_DATABASE_URL: dbs.urls.orders,
    PAYMENTS_DATABASE_URL: dbs.urls.payments,
    IDENTITY_DATABASE_URL: dbs.urls.identity,
    ...partsRedis,
    REDIS_PREFIX: redisPrefix,
    // Every part signs and checks messages under the run's key (see @gozon/messaging/testing).
    MESSAGE_SIGNING_KEY: TEST_MESSAGE_SIGNING_KEY,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    REGISTRATIONS_PER_IP_PER_HOUR: "100000",
    LOG_LEVEL: "info",
    METRICS_PORT: "0",
    ...env,
  };

  const parts = new Map<InstanceName, Part>();
  const running = new Map<InstanceName, RunningProcess>();
  const logs: string[] = [];
  const webUrls: string[] = [];

  for (let i = 0; i < webInstances; i++) {
    const port = await freePort();
    webUrls.push(`http://127.0.0.1:${port}`);
    parts.set(`web-${i}`, {
      name: `web-${i}`,
      cwd: path.join(repoRoot, "apps/web"),
      args: ["--import", "tsx", "server.ts"],
      ready: /web ready on/,
      env: { PORT: String(port) },
    });
  }
  for (const [kind, count] of [
    ["orders-worker", ordersWorkers],
    ["payments-worker", paymentsWorkers],
  ] as const) {
    for (let i = 1; i <= count; i++) {
      const name = `${kind}-${i}` as const;
      parts.set(name, {
        name,
        cwd: path.join(repoRoot, "apps", kind),
        args: ["--import", "tsx", "src/main.ts"],
        ready: new RegExp(`${kind.replace("-", " ")} ready`),
        env: { WORKER_NAME: name },
      });
    }
  }

  /**
   * Starts a part; `env` changes its settings from now on (a rolling change of configuration, as the key
   * rotation test makes; an empty value unsets a variable, as the config reads it).
   */
  const start = async (partName: PartName, env: Record<string, string> = {}) => {
    const name = instanceName(partName);
    const part = parts.get(name);
    if (!part) throw new Error(`no part ${name}`);
    Object.assign(part.env, env);
    const proc = startProcess("node", part.args, {
      cwd: part.cwd,
      env: { ...withoutRedisVariables(process.env), ...common, ...part.env },
    });
    running.set(name, proc);
    await proc.waitForOutput(part.ready, 90_000);
    return proc;
  };

  /** Kills a part with SIGKILL (a crash: no cleanup runs) and keeps its output for diagnostics. */
  const kill = async (partName: PartName) => {
    const name = instanceName(partName);
    const proc = running.get(name);
    if (!proc) return;
    running.delete(name);
    await proc.stop("SIGKILL");
    logs.push(`--- ${name} (killed) ---\n${proc.output()}`);
  };

  /**
   * Deletes the keys under the prefix this system chose itself, once its processes are gone. A caller that
   * passes its own REDIS_PREFIX (the bench) deletes its keys itself; a Redis Cluster passed as `redisClusterNodes` is its test's own and
   * goes away with it. Best effort: a Redis the test has stopped leaves nothing to delete.
   */
  const deleteOwnKeys = async () => {
    if (env.REDIS_PREFIX !== undefined || redisClusterNodes !== undefined) return;
    await deleteKeysAt(redisTarget, redisPrefix).catch(() => {
      // Nothing to clean up where nothing answers.
    });
  };

  const stop = async () => {
    for (const [name, proc] of running) {
      await proc.stop("SIGTERM");
      logs.push(`--- ${name} ---\n${proc.output()}`);
    }
    running.clear();
    await dbs.drop();
    await deleteOwnKeys();
  };

  try {
    await Promise.all([...parts.keys()].map((name) => start(name)));
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    dbs,
    redisPrefix,
    webUrls,
    /** The processes running now, by instance name (`orders-worker-2`), e.g. for their pids. */
    running: () => new Map(running),
    start,
    kill,
    /** The pid of a running part (to pause it with SIGSTOP from another process, as the e2e suite does). */
    pid: (name: PartName) => running.get(instanceName(name))?.child.pid,
    async restart(name: PartName, env: Record<string, string> = {}) {
      await kill(name);
      return start(name, env);
    },
    stop,
    /** Everything the processes printed, for a failing test's message. */
    output: () => [...logs, ...[...running].map(([name, p]) => `--- ${name} ---\n${p.output()}`)].join("\n"),
  };
}
