// REDIS_CLUSTER_NODES with rediss:// nodes against a real TLS cluster-enabled redis-server whose
// certificate names a host only ("localhost", as a managed service's names its endpoint, never an
// address). The client must check the certificate against the name it was given: ioredis resolves a
// cluster's hostnames to addresses by default, and then no certificate of such a service matches.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startProcess, waitFor, type RunningProcess } from "../test-support/testing.ts";

const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-redis-tls-"));
const file = (name: string) => path.join(dir, name);
let server: RunningProcess;
let port: number;

/** redis-cli over TLS, trusting the test's own CA. */
const cli = (...args: string[]) =>
  run("redis-cli", ["--tls", "--cacert", file("ca.crt"), "-h", "localhost", "-p", String(port), ...args]);

beforeAll(async () => {
  // A CA of the test's own, and a certificate for the name "localhost" alone (no IP address in it).
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=gozon-test-ca",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
  ]);
  await run("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    file("tls.key"),
    "-out",
    file("tls.csr"),
  ]);
  fs.writeFileSync(file("san.cnf"), "subjectAltName=DNS:localhost\n");
  await run("openssl", [
    "x509",
    "-req",
    "-days",
    "1",
    "-in",
    file("tls.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-extfile",
    file("san.cnf"),
    "-out",
    file("tls.crt"),
  ]);

  port = await freePort();
  server = startProcess(
    "redis-server",
    [
      ...["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""],
      ...["--tls-cert-file", file("tls.crt"), "--tls-key-file", file("tls.key")],
      ...["--tls-ca-cert-file", file("ca.crt"), "--tls-auth-clients", "no", "--tls-cluster", "yes"],
      ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
      // The bus port is the port + 10000 unless given, past 65535 for a port above 55535.
      ...["--cluster-port", String(await freePort())],
      // The node names itself by host in CLUSTER SLOTS, as managed services do.
      ...["--cluster-announce-hostname", "localhost", "--cluster-preferred-endpoint-type", "hostname"],
    ],
    { cwd: dir, env: process.env },
  );
  await waitFor(async () => (await cli("PING").catch(() => ({ stdout: "" }))).stdout.trim() === "PONG", {
    what: "the TLS node to answer",
  });
  await cli("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
  await waitFor(async () => /cluster_state:ok/.test((await cli("CLUSTER", "INFO")).stdout), {
    what: "cluster_state:ok",
  });
}, 60_000);
afterAll(async () => {
  await server?.stop("SIGKILL");
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
    env: { ...process.env, NODE_EXTRA_CA_CERTS: file("ca.crt") },
  });
  await probe.exited;
  return probe.output().trim();
}

describe("REDIS_CLUSTER_NODES over TLS", () => {
  it("reaches a cluster whose certificate names its host, not its address", async () => {
    expect(await throughTheClient()).toBe("answered 1");
  }, 30_000);
});
