// REDIS_TLS_CA against a real redis-server that speaks TLS only, with a certificate of the test's own CA
// for the name "localhost": the clients and the launcher's probe trust that CA when it is set, and
// without it they refuse the certificate; a redis:// URL stays plain even when a client is handed a CA.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { resolveRedis } from "../src/infra/redis.ts";
import { createRedisClient, type RedisTarget } from "../src/infra/redis-client.ts";
import {
  capturingLogger,
  makeLocalhostCertificate,
  startTlsRedis,
  type TestCertificate,
  type TlsRedis,
} from "../test-support/testing.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-redis-tls-ca-"));
let certificate: TestCertificate;
let server: TlsRedis;
let url: string;

beforeAll(async () => {
  certificate = await makeLocalhostCertificate(dir);
  server = await startTlsRedis(dir, certificate);
  url = `rediss://localhost:${server.port}`;
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** PONG, or why the PING failed (the connection's own error, which names the certificate problem). */
async function ping(target: RedisTarget): Promise<string> {
  const redis = createRedisClient(target, {
    lazyConnect: true,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let cause: Error | undefined;
  redis.on("error", (error: Error) => (cause ??= error));
  try {
    await redis.connect();
    return await redis.ping();
  } catch (error) {
    return (cause ?? (error as Error)).message;
  } finally {
    redis.disconnect();
  }
}

function resolve(env: NodeJS.ProcessEnv) {
  const fullEnv = { DATA_DIR: dir, ...env };
  return resolveRedis(loadConfig(fullEnv), fullEnv, capturingLogger().log);
}

describe("REDIS_TLS_CA with a rediss:// REDIS_URL", () => {
  it("trusts the CA: a PING answers, and the launcher's probe accepts the URL", async () => {
    const env = { REDIS_URL: url, REDIS_TLS_CA: certificate.ca };
    expect(await ping(loadConfig(env))).toBe("PONG");
    await expect(resolve(env)).resolves.toMatchObject({ url, source: "configured" });
  });

  it("without it, the certificate is refused", async () => {
    expect(await ping(loadConfig({ REDIS_URL: url }))).toMatch(/certificate/);
    await expect(resolve({ REDIS_URL: url })).rejects.toThrow(
      /REDIS_URL .* cannot be reached: .*certificate/,
    );
  });

  it("does not turn TLS on for a redis:// URL", async () => {
    // The config refuses this pair; a client handed it anyway speaks plain Redis, which this server,
    // TLS only, does not answer.
    const pem = loadConfig({ REDIS_URL: url, REDIS_TLS_CA: certificate.ca }).REDIS_TLS_CA;
    expect(await ping({ REDIS_URL: `redis://localhost:${server.port}`, REDIS_TLS_CA: pem })).not.toBe("PONG");
  });
});
