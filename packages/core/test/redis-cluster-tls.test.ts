// REDIS_CLUSTER_NODES with rediss:// nodes against a real TLS cluster-enabled redis-server whose
// certificate names a host only ("localhost", as a managed service's names its endpoint, never an
// address). The client must check the certificate against the name it was given: ioredis resolves a
// cluster's hostnames to addresses by default, and then no certificate of such a service matches.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  makeLocalhostCertificate,
  startProcess,
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

/**
 * Writes and reads keys of every slot range through `createRedisClient`, in a process that trusts the
 * test's CA (Node reads NODE_EXTRA_CA_CERTS only at start); resolves with what it printed.
 */
async function throughTheClient(): Promise<string> {
  const client = JSON.stringify(fileURLToPath(new URL("../src/infra/redis-client.ts", import.meta.url)));
  const script = `import { createRedisClient } from ${client};
    const redis = createRedisClient(
      { REDIS_URL: "", REDIS_CLUSTER_NODES: [{ host: "localhost", port: ${port}, tls: true }] },
      { maxRetriesPerRequest: 1 });
    let last = "";
    redis.on("error", (error) => (last = error.message));
    const timer = setTimeout(() => { console.log("no answer: " + last); process.exit(0); }, 10000);
    for (const key of ["a", "b", "c", "{gozon}:bull"]) await redis.set(key, "1");
    console.log("answered " + (await redis.get("{gozon}:bull")));
    clearTimeout(timer);
    redis.disconnect();`;
  const probe = startProcess(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", script], {
    cwd: process.cwd(),
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certificate.ca },
  });
  await probe.exited;
  return probe.output().trim();
}

describe("REDIS_CLUSTER_NODES over TLS", () => {
  it("reaches a cluster whose certificate names its host, not its address", async () => {
    expect(await throughTheClient()).toBe("answered 1");
  }, 30_000);
});
