// The one place Redis clients are made: a single `Redis` from REDIS_URL, or a `Cluster` when
// REDIS_CLUSTER_NODES is set (it wins). Every Redis user (queues, pub/sub, rate limits, readiness, the
// launcher's probes) goes through here, so the two modes, the password and the CA cannot drift apart.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { Config, RedisNode } from "../config.ts";
import { safeUrl } from "./common.ts";

export type RedisClient = Redis | Cluster;

/** What picks and reaches Redis; the cluster fields are optional so single-node callers need not name them. */
export type RedisTarget = Pick<Config, "REDIS_URL"> &
  Partial<Pick<Config, "REDIS_CLUSTER_NODES" | "REDIS_PASSWORD" | "REDIS_TLS_CA">>;

/** Options of a client that have a cluster-wide meaning too (see `createRedisClient`). */
export type RedisClientOptions = RedisOptions & Pick<ClusterOptions, "clusterRetryStrategy">;

export function isClusterTarget(target: RedisTarget): target is RedisTarget & {
  REDIS_CLUSTER_NODES: RedisNode[];
} {
  return target.REDIS_CLUSTER_NODES !== undefined && target.REDIS_CLUSTER_NODES.length > 0;
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/**
 * A Redis client for `target`. `options` are per-connection options (they apply to every node's
 * connection in cluster mode); `lazyConnect`, `enableOfflineQueue` and `retryStrategy` also steer the
 * cluster as a whole, so a probe that must fail fast fails fast in both modes.
 */
export function createRedisClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  if (isClusterTarget(target)) return createCluster(target, options);
  if (target.REDIS_URL === "embedded") {
    throw new Error("REDIS_URL=embedded must be resolved to a redis:// URL before a client is made");
  }
  const { clusterRetryStrategy: _unused, ...redisOptions } = options;
  // ioredis takes the URL's fields first and the options only where the URL says nothing, and puts
  // `tls: true` for a rediss:// URL only when no `tls` option came: so `tls: { ca }` keeps TLS on with a
  // rediss:// URL, and it would turn TLS on for a redis:// one, hence given with rediss:// alone.
  const tls = target.REDIS_TLS_CA !== undefined && target.REDIS_URL.startsWith("rediss://");
  // REDIS_PASSWORD only when set: a password in the URL (or none) stays exactly as before.
  return new Redis(target.REDIS_URL, {
    ...(target.REDIS_PASSWORD !== undefined ? { password: target.REDIS_PASSWORD } : {}),
    ...(tls ? { tls: { ca: target.REDIS_TLS_CA } } : {}),
    ...redisOptions,
  });
}

function createCluster(
  target: RedisTarget & { REDIS_CLUSTER_NODES: RedisNode[] },
  options: RedisClientOptions,
) {
  const { REDIS_CLUSTER_NODES: nodes, REDIS_TLS_CA: ca } = target;
  const { lazyConnect, enableOfflineQueue, retryStrategy, clusterRetryStrategy, ...redisOptions } = options;
  const { username, password } = clusterCredentials(target);
  const tls = nodes.some((node) => node.tls);
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...redisOptions,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(tls ? { tls: ca !== undefined ? { ca } : {} } : {}),
    },
    // Over TLS the nodes are reached by the names given (and those CLUSTER SLOTS returns): ioredis would
    // resolve them to addresses first, and a managed service's certificate names its hosts, never an
    // address (the fix ioredis documents for such clusters).
    ...(tls
      ? {
          dnsLookup: (address: string, callback: (err: null, address: string) => void) =>
            callback(null, address),
        }
      : {}),
    // Reads and writes both go to masters: a replica may lag, and the queues need their own writes back.
    scaleReads: "master",
    // A failover takes about cluster-node-timeout; commands wait it out rather than fail.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    // New masters (after a failover) are learned without waiting for a MOVED.
    slotsRefreshInterval: 2_000,
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(clusterRetryStrategy !== undefined
      ? { clusterRetryStrategy }
      : retryStrategy
        ? { clusterRetryStrategy: (times: number) => retryStrategy(times) ?? null }
        : {}),
  };
  return new Cluster(
    nodes.map(({ host, port }) => ({ host, port })),
    clusterOptions,
  );
}

/** The credentials every node of a cluster is reached with. */
function clusterCredentials(target: RedisTarget & { REDIS_CLUSTER_NODES: RedisNode[] }) {
  // The first node that names credentials speaks for all: a cluster has one ACL/requirepass setup.
  const withAuth = target.REDIS_CLUSTER_NODES.find(
    (node) => node.password !== undefined || node.username !== undefined,
  );
  return { username: withAuth?.username, password: target.REDIS_PASSWORD ?? withAuth?.password };
}

/**
 * Each seed node of a cluster target as a single-server target, reached as the cluster reaches it (TLS
 * from its rediss:// scheme, the cluster's credentials and CA), with its `host:port` for messages. A
 * cluster that cannot be reached only says "Failed to refresh slots cache"; one node alone says why.
 */
export function seedNodeTargets(
  target: RedisTarget & { REDIS_CLUSTER_NODES: RedisNode[] },
): Array<{ where: string; target: RedisTarget }> {
  const { username, password } = clusterCredentials(target);
  // TLS for every node when any node asks for it, as `createCluster` does: a seed written as plain
  // host:port in a TLS list must not be sent the password in the clear.
  const tls = target.REDIS_CLUSTER_NODES.some((node) => node.tls);
  return target.REDIS_CLUSTER_NODES.map(({ host, port }) => {
    const hostname = host.includes(":") ? `[${host}]` : host; // an IPv6 address
    const url = new URL(`${tls ? "rediss" : "redis"}://${hostname}:${port}`);
    // Both in the URL (never shown: messages name `where`): ioredis reads a URL with a username as
    // naming the password too, and would let an empty one there win over a REDIS_PASSWORD.
    if (username !== undefined) url.username = encodeURIComponent(username);
    if (password !== undefined) url.password = encodeURIComponent(password);
    return {
      where: `${host}:${port}`,
      target: {
        REDIS_URL: url.toString(),
        ...(tls && target.REDIS_TLS_CA !== undefined ? { REDIS_TLS_CA: target.REDIS_TLS_CA } : {}),
      },
    };
  });
}

/** The master connections of a client: every master of a cluster (once connected), or the client itself. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes("master") : [client];
}

/** Where a target points, without secrets, for logs and messages. */
export function describeRedisTarget(target: RedisTarget): string {
  if (isClusterTarget(target)) {
    return `cluster ${target.REDIS_CLUSTER_NODES.map((node) => `${node.host}:${node.port}`).join(",")}`;
  }
  return safeUrl(target.REDIS_URL);
}
