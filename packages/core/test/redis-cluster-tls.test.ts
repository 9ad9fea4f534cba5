// REDIS_CLUSTER_NODES with rediss:// nodes against a real TLS cluster-enabled redis-server whose
// certificate names a host only ("localhost", as a managed service's names its endpoint, never an
// address). The client must check the certificate against the name it was given: ioredis resolves a
// cluster's hostnames to addresses by default, and then no certificate of such a service matches.
// The test's CA is trusted through REDIS_TLS_CA alone, as a managed service's CA file would be.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { pingCluster } from "../src/infra/redis.ts";
import { createRedisClient } from "../src/infra/redis-client.ts";
import {
  freePort,
  makeLocalhostCertificate,
  startTlsRedis,
  waitFor,
  type TestCertificate,
  type TlsRedis,
} from "../test-support/testing.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-redis-tls-"));
let certificate: TestCertificate;
let server: TlsRedis;
let port: number;

beforeAll(async () => {
  certificate = await makeLocalhostCertificate(dir);
  server = await startTlsRedis(dir, certificate, [
    ...["--tls-cluster", "yes", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
    // The bus port is the port + 10000 unless given, past 65535 for a port above 55535.
    ...["--cluster-port", String(await freePort())],
    // The node names itself by host in CLUSTER SLOTS, as managed services do.
    ...["--cluster-announce-hostname", "localhost", "--cluster-preferred-endpoint-type", "hostname"],
  ]);
  port = server.port;
  await server.cli("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
  await waitFor(async () => /cluster_state:ok/.test(await server.cli("CLUSTER", "INFO")), {
    what: "cluster_state:ok",
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes and reads keys of every slot range through `createRedisClient`; resolves with the last read. */
async function throughTheClient(env: NodeJS.ProcessEnv): Promise<string | null> {
  // No retries past the first failure: a refused certificate fails the test at once, saying why.
  const redis = createRedisClient(loadConfig(env), {
    maxRetriesPerRequest: 0,
    clusterRetryStrategy: () => null,
  });
  let cause: Error | undefined;
  redis.on("error", (error: Error) => (cause ??= error));
  try {
    for (const key of ["a", "b", "c", "{gozon}:bull"]) await redis.set(key, "1");
    return await redis.get("{gozon}:bull");
  } catch (error) {
    throw cause ?? error;
  } finally {
    redis.disconnect();
  }
}

/** The probe's reason when the seed node's certificate is refused: the node's own error, by name. */
const refusedCertificate = () => new RegExp(`^node localhost:${port}: .*certificate`);

describe("REDIS_CLUSTER_NODES over TLS", () => {
  it("reaches a cluster whose certificate names its host, not its address, trusting REDIS_TLS_CA", async () => {
    const env = { REDIS_CLUSTER_NODES: `rediss://localhost:${port}`, REDIS_TLS_CA: certificate.ca };
    expect(await throughTheClient(env)).toBe("1");
    expect(await pingCluster(loadConfig(env))).toBeUndefined();
  });

  it("without REDIS_TLS_CA, nothing else trusts the CA; the probe names the certificate problem", async () => {
    // The cluster reports only "Failed to refresh slots cache": ioredis drops the certificate error of
    // the connection that asks for the slots. The probe asks the seed node on its own, which says why.
    const env = { REDIS_CLUSTER_NODES: `rediss://localhost:${port}` };
    await expect(throughTheClient(env)).rejects.toThrow(/Failed to refresh slots cache/);
    expect(await pingCluster(loadConfig(env))).toMatch(refusedCertificate());
  });

  it("with a REDIS_TLS_CA of another CA, the probe names the certificate problem", async () => {
    const other = path.join(dir, "other-ca");
    fs.mkdirSync(other);
    const env = {
      REDIS_CLUSTER_NODES: `rediss://localhost:${port}`,
      REDIS_TLS_CA: (await makeLocalhostCertificate(other)).ca,
    };
    expect(await pingCluster(loadConfig(env))).toMatch(refusedCertificate());
  });
});
