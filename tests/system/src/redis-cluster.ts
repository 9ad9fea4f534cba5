// A real Redis Cluster for tests: `redis-server --cluster-enabled yes` per node in a temp dir, joined with
// `redis-cli --cluster create`. Three masters, with or without a replica each; any node can be SIGKILLed.
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";
import { freePort, startProcess, waitFor, type RunningProcess } from "@gozon/core/testing";

const run = promisify(execFile);

export type RedisClusterNode = { port: number; process: RunningProcess };

export type RedisClusterOptions = {
  masters?: number;
  /** Replicas per master (0 or more). */
  replicas?: number;
  /**
   * How long a master may be silent before its replica takes over. Small in tests so a failover takes
   * seconds; Redis's default is 15 s.
   */
  nodeTimeoutMs?: number;
};

export type RedisCluster = Awaited<ReturnType<typeof startRedisCluster>>;

export async function startRedisCluster({
  masters = 3,
  replicas = 0,
  nodeTimeoutMs = 2_000,
}: RedisClusterOptions = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "gozon-redis-cluster-"));
  const nodes: RedisClusterNode[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((node) => node.process.stop("SIGKILL")));
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const port = await freePort();
      const nodeDir = path.join(dir, String(port));
      await fs.mkdir(nodeDir);
      const proc = startProcess(
        "redis-server",
        [
          ...["--port", String(port), "--bind", "127.0.0.1", "--dir", nodeDir],
          ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
          // The bus port is the port + 10000 unless given, past 65535 for a port above 55535.
          ...["--cluster-port", String(await freePort())],
          ...["--cluster-node-timeout", String(nodeTimeoutMs)],
          ...["--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
          // A replica's first sync starts at once, not after Redis's default 5 s wait for others to join.
          ...["--repl-diskless-sync-delay", "0"],
        ],
        { cwd: nodeDir, env: process.env },
      );
      nodes.push({ port, process: proc });
    }
    for (const node of nodes) await waitUntilPing(node.port);
    // redis-cli makes the first `masters` nodes masters and gives each the next ones as replicas.
    await run(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ],
      { timeout: 60_000 },
    );
    await waitFor(() => clusterSettled(nodes, masters, replicas), {
      timeoutMs: 30_000,
      what: "the Redis Cluster to report cluster_state:ok on every node, every replica synced",
    });
  } catch (error) {
    await stopAll();
    throw error;
  }

  const seeds = nodes.map((node) => `127.0.0.1:${node.port}`);
  return {
    nodes,
    /** REDIS_CLUSTER_NODES for the system under test. */
    nodesEnv: seeds.join(","),
    /** A client of the whole cluster (the caller disconnects it). */
    client: () =>
      new Cluster(
        nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
        { scaleReads: "master", redisOptions: { maxRetriesPerRequest: null } },
      ),
    /** The live node that serves the slot of `key` as master right now. */
    masterOf: async (key: string) => {
      for (const node of nodes) {
        if (node.process.child.exitCode !== null || node.process.child.signalCode !== null) continue;
        const probe = new Redis(node.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
        probe.on("error", () => {});
        try {
          const slot = Number(await probe.cluster("KEYSLOT", key));
          const shards = await probe.cluster("SLOTS");
          const owner = shards.find(([from, to]) => slot >= from && slot <= to);
          const port = owner?.[2]?.[1];
          const found = nodes.find((n) => n.port === port);
          if (found) return found;
        } catch {
          // try the next node
        } finally {
          probe.disconnect();
        }
      }
      throw new Error(`no live master serves ${key}`);
    },
    /** Every live node's ports that are masters now. */
    livingMasters: async () => {
      const found: number[] = [];
      for (const node of nodes) {
        if (node.process.child.exitCode !== null || node.process.child.signalCode !== null) continue;
        const probe = new Redis(node.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
        probe.on("error", () => {});
        try {
          if (/role:master/.test(await probe.info("replication"))) found.push(node.port);
        } catch {
          // not answering: not a master we can use
        } finally {
          probe.disconnect();
        }
      }
      return found;
    },
    /** Waits until every live node says cluster_state:ok (after a failover, say). */
    waitUntilHealthy: (timeoutMs = 30_000) =>
      waitFor(
        async () => {
          const live = nodes.filter(
            (n) => n.process.child.exitCode === null && n.process.child.signalCode === null,
          );
          for (const node of live) if (!(await clusterStateOk(node.port))) return false;
          return true;
        },
        { timeoutMs, what: "cluster_state:ok on every live node" },
      ),
    stop: stopAll,
  };
}

async function waitUntilPing(port: number) {
  const probe = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on("error", () => {});
  try {
    await waitFor(
      async () => {
        await probe.connect().catch(() => {});
        return (await probe.ping()) === "PONG";
      },
      { timeoutMs: 15_000, what: `redis-server on port ${port} to answer PING` },
    );
  } finally {
    probe.disconnect();
  }
}

async function clusterStateOk(port: number) {
  const probe = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 1 });
  probe.on("error", () => {});
  try {
    return /cluster_state:ok/.test(String(await probe.cluster("INFO")));
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Every node says ok and knows every other node (so a client's first CLUSTER SLOTS is complete). */
async function clusterSettled(nodes: RedisClusterNode[], masters: number, replicas: number) {
  let synced = 0;
  for (const node of nodes) {
    const probe = new Redis(node.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    probe.on("error", () => {});
    try {
      const info = String(await probe.cluster("INFO"));
      if (!/cluster_state:ok/.test(info)) return false;
      if (Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1]) !== masters * (1 + replicas)) return false;
      const replication = await probe.info("replication");
      if (/role:slave/.test(replication) && /master_link_status:up/.test(replication)) synced++;
    } finally {
      probe.disconnect();
    }
  }
  // Every replica synced with its master: one that never did refuses to take over ("disconnected from
  // master for longer than allowed"), so a test that kills a master soon after the cluster formed would
  // find no failover.
  return synced === masters * replicas;
}
