// REDIS_CLUSTER_NODES: the launcher's probe (a configured cluster must answer, never a silent switch),
// the client factory, and the noeviction check on every master, against a real cluster-enabled
// redis-server (one node serving every slot: a cluster as far as any client can tell).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { checkRedisPolicy, pingCluster, resolveRedis } from "../src/infra/redis.ts";
import {
  createRedisClient,
  describeRedisTarget,
  masters,
  seedNodeTargets,
} from "../src/infra/redis-client.ts";
import {
  capturingLogger,
  freePort,
  startProcess,
  waitFor,
  type RunningProcess,
} from "../test-support/testing.ts";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-redis-cluster-"));
let server: RunningProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  server = startProcess(
    "redis-server",
    [
      ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dataDir, "--save", ""],
      ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
      // The bus port is the port + 10000 unless given, past 65535 for a port above 55535.
      ...["--cluster-port", String(await freePort())],
      // A lone node learns its own address only from peers: without this it announces "".
      ...["--cluster-announce-ip", "127.0.0.1"],
    ],
    { cwd: dataDir, env: process.env },
  );
  const admin = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 0, lazyConnect: true });
  admin.on("error", () => {});
  await waitFor(async () => {
    await admin.connect().catch(() => {});
    return (await admin.ping()) === "PONG";
  });
  await admin.cluster("ADDSLOTSRANGE", 0, 16383);
  await waitFor(async () => /cluster_state:ok/.test(String(await admin.cluster("INFO"))), {
    what: "cluster_state:ok",
  });
  admin.disconnect();
});
afterAll(async () => {
  await server?.stop("SIGKILL");
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function resolve(env: NodeJS.ProcessEnv) {
  const { log } = capturingLogger();
  const fullEnv = { DATA_DIR: dataDir, ...env };
  return resolveRedis(loadConfig(fullEnv), fullEnv, log);
}

describe("REDIS_CLUSTER_NODES", () => {
  it("parses host:port and node URLs, takes the password from REDIS_PASSWORD or a URL, and names a bad item without echoing it", () => {
    expect(
      loadConfig({ REDIS_CLUSTER_NODES: " 10.0.0.1:7000, redis://:s3cret@10.0.0.2:7001 ," })
        .REDIS_CLUSTER_NODES,
    ).toEqual([
      { host: "10.0.0.1", port: 7000, tls: false },
      { host: "10.0.0.2", port: 7001, password: "s3cret", tls: false },
    ]);
    expect(loadConfig({}).REDIS_CLUSTER_NODES).toBeUndefined();
    for (const bad of ["10.0.0.1", "redis://:hunter2@10.0.0.1", "10.0.0.1:99999", "http://x:1", ","]) {
      let message = "";
      try {
        loadConfig({ REDIS_CLUSTER_NODES: bad });
      } catch (error) {
        message = String((error as Error).message);
      }
      expect(message).toMatch(/REDIS_CLUSTER_NODES must list/);
      expect(message).not.toContain("hunter2");
    }
  });

  it("wins over REDIS_URL: the launcher takes a cluster that answers, and the factory makes a Cluster", async () => {
    const env = { REDIS_CLUSTER_NODES: `127.0.0.1:${port}`, REDIS_URL: "redis://127.0.0.1:1" };
    const resolved = await resolve(env);
    expect(resolved.source).toBe("cluster");
    const client = createRedisClient(loadConfig(env), { maxRetriesPerRequest: 1 });
    try {
      expect(client).toBeInstanceOf(Cluster);
      await client.set("test-cluster:key", "value");
      expect(await client.get("test-cluster:key")).toBe("value");
      expect(masters(client).length).toBe(1);
      await client.del("test-cluster:key");
    } finally {
      client.disconnect();
    }
    expect(describeRedisTarget(loadConfig(env))).toBe(`cluster 127.0.0.1:${port}`);
  });

  it("refuses a configured cluster that does not answer, or a Redis that is no cluster, never switching to another Redis", async () => {
    const dead = await freePort();
    // The seed's own error, not the cluster's "Failed to refresh slots cache".
    await expect(resolve({ REDIS_CLUSTER_NODES: `127.0.0.1:${dead}` })).rejects.toThrow(
      new RegExp(
        `REDIS_CLUSTER_NODES \\(cluster 127\\.0\\.0\\.1:${dead}\\) is not a working Redis Cluster: ` +
          `node 127\\.0\\.0\\.1:${dead}: .*ECONNREFUSED`,
      ),
    );
    const single = await freePort();
    const plain = startProcess(
      "redis-server",
      ["--port", String(single), "--bind", "127.0.0.1", "--save", ""],
      {
        cwd: dataDir,
        env: process.env,
      },
    );
    try {
      await waitFor(async () => {
        const probe = new Redis(single, "127.0.0.1", { maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on("error", () => {});
        try {
          return (await probe.ping()) === "PONG";
        } finally {
          probe.disconnect();
        }
      });
      await expect(resolve({ REDIS_CLUSTER_NODES: `127.0.0.1:${single}` })).rejects.toThrow(
        new RegExp(
          `is not a working Redis Cluster: node 127\\.0\\.0\\.1:${single}: .*cluster support disabled`,
        ),
      );
    } finally {
      await plain.stop("SIGKILL");
    }
  });

  it("names a seed's own refusal of a wrong password, never the password", async () => {
    const admin = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 0 });
    await admin.config("SET", "requirepass", "right-pass");
    try {
      for (const env of [
        { REDIS_CLUSTER_NODES: `127.0.0.1:${port}`, REDIS_PASSWORD: "wrong-pass" },
        { REDIS_CLUSTER_NODES: `redis://default:wrong-pass@127.0.0.1:${port}` },
      ]) {
        const problem = await pingCluster(loadConfig(env));
        expect(problem).toMatch(new RegExp(`^node 127\\.0\\.0\\.1:${port}: WRONGPASS`));
        expect(problem).not.toContain("wrong-pass");
      }
    } finally {
      // The connection authenticated before the password was set stays so: it can take it off again.
      await admin.config("SET", "requirepass", "");
      admin.disconnect();
    }
  });

  it("blames no seed while another seed answers: the trouble is then elsewhere", async () => {
    const dead = await freePort();
    const admin = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 0 });
    // The node now announces an address nobody listens on: the seed answers, the cluster it names does not.
    await admin.config("SET", "cluster-announce-ip", "127.0.0.2");
    try {
      const problem = await pingCluster(
        loadConfig({ REDIS_CLUSTER_NODES: `127.0.0.1:${dead},127.0.0.1:${port}` }),
        2_000,
      );
      // It used to wait for ever: ioredis's connect() does not settle when the announced node is unreachable.
      expect(problem).toMatch(
        new RegExp(`^node 127\\.0\\.0\\.2:${port}, as the cluster announces it: .*ECONNREFUSED`),
      );
      expect(problem).not.toContain(`127.0.0.1:${dead}`);
    } finally {
      await admin.config("SET", "cluster-announce-ip", "127.0.0.1");
      admin.disconnect();
    }
  });

  it("probes every seed of a TLS cluster over TLS, one written as plain host:port too", () => {
    const targets = seedNodeTargets(
      loadConfig({ REDIS_CLUSTER_NODES: "rediss://:pw@10.0.0.1:7000,10.0.0.2:7001" }) as Parameters<
        typeof seedNodeTargets
      >[0],
    );
    expect(targets.map(({ where, target }) => [where, target.REDIS_URL])).toEqual([
      ["10.0.0.1:7000", "rediss://:pw@10.0.0.1:7000"],
      ["10.0.0.2:7001", "rediss://:pw@10.0.0.2:7001"],
    ]);
  });

  it("warns when a master may evict keys", async () => {
    const client = createRedisClient(loadConfig({ REDIS_CLUSTER_NODES: `127.0.0.1:${port}` }), {
      maxRetriesPerRequest: 1,
    });
    try {
      await client.ping();
      const node = masters(client)[0]!;
      const { log, lines } = capturingLogger();
      await node.config("SET", "maxmemory-policy", "allkeys-lru");
      await checkRedisPolicy(client, log);
      await node.config("SET", "maxmemory-policy", "noeviction");
      await checkRedisPolicy(client, log);
      const warnings = lines.filter((line) => line.level === 40);
      expect(warnings.map((line) => [line.policy, line.node])).toEqual([
        ["allkeys-lru", `127.0.0.1:${port}`],
      ]);
    } finally {
      client.disconnect();
    }
  });
});
