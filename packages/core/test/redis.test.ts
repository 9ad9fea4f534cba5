import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { checkRedisPolicy, resolveRedis, DEFAULT_REDIS_URL } from "../src/infra/redis.ts";
import { freePort, isAlive } from "../test-support/testing.ts";
import { capturingLogger } from "@gozon/core/testing";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-redis-"));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const clients: Redis[] = [];
afterAll(() => clients.forEach((client) => client.disconnect()));
function connect(url: string) {
  const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  client.on("error", () => {});
  clients.push(client);
  return client;
}

async function answers(url: string) {
  const client = connect(url);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function resolve(env: NodeJS.ProcessEnv) {
  const { log, lines } = capturingLogger();
  const fullEnv = { DATA_DIR: dataDir, ...env };
  return { resolved: await resolveRedis(loadConfig(fullEnv), fullEnv, log), lines, log };
}

describe("resolveRedis", () => {
  it("rejects a configured REDIS_URL that does not answer, naming REDIS_URL", async () => {
    const port = await freePort();
    await expect(resolve({ REDIS_URL: `redis://127.0.0.1:${port}` })).rejects.toThrow(
      /REDIS_URL \(redis:\/\/127\.0\.0\.1:\d+\) cannot be reached/,
    );
  });

  it("uses the default URL when it answers and nothing is configured", async (context) => {
    if (!(await answers(DEFAULT_REDIS_URL))) context.skip();
    const { resolved } = await resolve({});
    expect(resolved).toMatchObject({ url: DEFAULT_REDIS_URL, source: "local" });
  });

  it("refuses an embedded port taken by a Redis with another data directory", async (context) => {
    if (!(await answers(DEFAULT_REDIS_URL))) context.skip();
    await expect(resolve({ REDIS_URL: "embedded", EMBEDDED_REDIS_PORT: "6379" })).rejects.toThrow(
      /EMBEDDED_REDIS_PORT/,
    );
  });

  it("with no Redis and no redis-server on the PATH, says how to get one", async () => {
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-no-redis-"));
    const pathBefore = process.env.PATH;
    process.env.PATH = emptyDir; // what the spawn looks redis-server up in
    try {
      await expect(
        resolve({ REDIS_URL: "embedded", EMBEDDED_REDIS_PORT: String(await freePort()) }),
      ).rejects.toThrow(/no Redis answers and redis-server is not on the PATH/);
    } finally {
      process.env.PATH = pathBefore;
      fs.rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  it("reaches a configured Redis that asks for REDIS_PASSWORD, and names the refusal without it", async () => {
    const port = await freePort();
    const password = "a-password-of-this-test-only";
    const server = spawn("redis-server", ["--port", String(port), "--requirepass", password, "--save", ""], {
      stdio: "ignore",
    });
    try {
      const url = `redis://127.0.0.1:${port}`;
      await expect
        .poll(() => answers(`redis://:${password}@127.0.0.1:${port}`), { timeout: 10_000 })
        .toBe(true);
      const { resolved } = await resolve({ REDIS_URL: url, REDIS_PASSWORD: password });
      expect(resolved).toMatchObject({ url, source: "configured" });
      await expect(resolve({ REDIS_URL: url })).rejects.toThrow(/cannot be reached: .*NOAUTH/);
    } finally {
      server.kill("SIGKILL");
    }
  });

  it("starts redis-server with persistence and noeviction, reuses it, and stops only what it started", async () => {
    const port = await freePort();
    const env = { REDIS_URL: "embedded", EMBEDDED_REDIS_PORT: String(port) };
    const { resolved: first } = await resolve(env);
    expect(first).toMatchObject({ url: `redis://127.0.0.1:${port}`, source: "embedded" });

    const client = connect(first.url);
    await client.connect();
    expect(await client.ping()).toBe("PONG");
    expect(await client.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
    expect(await client.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "noeviction"]);
    expect(await client.config("GET", "save")).toEqual(["save", ""]);
    expect(fs.realpathSync(String((await client.config("GET", "dir"))[1]))).toBe(
      fs.realpathSync(path.join(dataDir, "redis")),
    );
    const pid = Number(/process_id:(\d+)/.exec(await client.info("server"))?.[1]);
    await client.set("survives", "restart");

    // A second launcher shares it, and stopping that one leaves it running.
    const { resolved: second } = await resolve(env);
    expect(second).toMatchObject({ url: first.url, source: "embedded" });
    await second.stop();
    expect(await answers(first.url)).toBe(true);

    // Workers warn when Redis could evict their jobs.
    const { log, lines } = capturingLogger();
    await client.config("SET", "maxmemory-policy", "allkeys-lru");
    await checkRedisPolicy(client, log);
    await client.config("SET", "maxmemory-policy", "noeviction");
    await checkRedisPolicy(client, log);
    expect(lines.filter((line) => line.level === 40).map((line) => line.policy)).toEqual(["allkeys-lru"]);
    client.disconnect();

    await first.stop();
    expect(isAlive(pid)).toBe(false);
    expect(await answers(first.url)).toBe(false);

    // The append-only file brings the data back.
    const { resolved: third } = await resolve(env);
    const again = connect(third.url);
    await again.connect();
    expect(await again.get("survives")).toBe("restart");
    again.disconnect();
    await third.stop();
    expect(await answers(third.url)).toBe(false);
  });
});
