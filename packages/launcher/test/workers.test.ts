// `npm start` with ORDERS_WORKERS=2: two supervised orders workers, each with its own name and metrics port;
// and with the service databases on different Postgres servers.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, withDatabase } from "@gozon/core/config";
import { resolvePostgres, type ResolvedPostgres } from "@gozon/core/infra/postgres";
import { capturingLogger, freePort, isAlive, waitFor, type RunningProcess } from "@gozon/core/testing";
import { dropDatabase } from "@gozon/db/databases";
import { createSqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, uniqueTestDatabaseUrl, type TestDatabases } from "@gozon/db/testing";
import { deleteKeysAt } from "@gozon/messaging/testing";
import { workerInstances } from "../src/instances.ts";
import { startLauncher } from "./launch.ts";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

describe("workerInstances", () => {
  it("interleaves metrics ports from the base so the two kinds never collide", () => {
    const plan = workerInstances({ ORDERS_WORKERS: 3, PAYMENTS_WORKERS: 2, METRICS_PORT: undefined });
    expect(plan.map(({ name, metricsPort }) => `${name}:${metricsPort}`)).toEqual([
      "orders-worker-1:9464",
      "orders-worker-2:9466",
      "orders-worker-3:9468",
      "payments-worker-1:9465",
      "payments-worker-2:9467",
    ]);
    const ports = workerInstances({ ORDERS_WORKERS: 7, PAYMENTS_WORKERS: 9, METRICS_PORT: 10_000 }).map(
      (instance) => instance.metricsPort,
    );
    expect(new Set(ports).size).toBe(16);
    expect(Math.min(...ports)).toBe(10_000);
    const off = workerInstances({ ORDERS_WORKERS: 2, PAYMENTS_WORKERS: 2, METRICS_PORT: 0 });
    expect(off.every((instance) => instance.metricsPort === 0)).toBe(true);
  });
});

type LogLine = { name?: string; msg?: string; port?: number; child?: string; pid?: number };

describe("launcher with ORDERS_WORKERS=2", () => {
  let dbs: TestDatabases;
  let launcher: RunningProcess | undefined;
  const redisPrefix = `test-launch-${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    dbs = await createTestDatabases("launcher_workers");
  });
  afterAll(async () => {
    await launcher?.stop("SIGKILL");
    await dbs?.drop();
    await deleteKeysAt({ REDIS_URL: redisUrl }, redisPrefix);
  });

  const lines = () =>
    launcher!
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as LogLine);

  it("starts and supervises two orders workers with distinct names and metrics ports", async () => {
    // Any free even-spaced pair will do: the scheme puts orders-worker-2 two ports above the base.
    let base = await freePort();
    while (base > 65_000) base = await freePort();
    launcher = startLauncher("orders-worker", dbs.urls, {
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      ORDERS_WORKERS: "2",
      METRICS_PORT: String(base),
      LOG_LEVEL: "info",
    });
    const ready = await waitFor(
      () => {
        const names = lines()
          .filter((line) => line.msg === "orders worker ready")
          .map((line) => line.name);
        return names.length >= 2 ? names : undefined;
      },
      { what: "two orders workers ready", timeoutMs: 90_000 },
    );
    expect(ready.sort()).toEqual(["orders-worker-1", "orders-worker-2"]);

    const served = lines().filter((line) => line.msg === "metrics served");
    expect(served.map(({ name, port }) => `${name}:${port}`).sort()).toEqual([
      `orders-worker-1:${base}`,
      `orders-worker-2:${base + 2}`,
    ]);
    for (const port of [base, base + 2]) {
      const response = await fetch(`http://127.0.0.1:${port}/api/metrics`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain("gozon_reconciler_rerequests_total");
    }
    // Only the orders workers were asked for: no payments worker, no web.
    expect(lines().some((line) => line.name?.startsWith("payments-worker"))).toBe(false);

    // Each is supervised on its own: SIGKILL one, the supervisor restarts that one under its name.
    const started = lines().filter((line) => line.msg?.endsWith(" started") && line.child);
    const second = started.find((line) => line.child === "orders-worker-2")!;
    process.kill(second.pid!, "SIGKILL");
    const restarted = await waitFor(
      () =>
        lines().find(
          (line) =>
            line.child === "orders-worker-2" && line.msg?.endsWith(" started") && line.pid !== second.pid,
        ),
      { what: "orders-worker-2 restarted", timeoutMs: 30_000 },
    );
    const first = started.find((line) => line.child === "orders-worker-1")!;
    expect(isAlive(first.pid!)).toBe(true);
    await waitFor(
      () =>
        lines().filter((line) => line.name === "orders-worker-2" && line.msg === "orders worker ready")
          .length === 2,
      { what: "the restarted orders-worker-2 ready", timeoutMs: 90_000 },
    );

    await launcher.stop("SIGTERM", 30_000);
    for (const pid of [first.pid!, restarted.pid!]) expect(isAlive(pid)).toBe(false);
  }, 240_000);
});

describe("launcher with the service databases on different Postgres servers", () => {
  // Under /tmp, not mkdtemp's 0700 folder alone: as root, Postgres runs as the postgres user, who must reach it.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-pg-launcher-"));
  fs.chmodSync(dataDir, 0o755);
  let second: ResolvedPostgres | undefined;
  let launcher: RunningProcess | undefined;
  const urls: string[] = [];
  const redisPrefix = `test-launch-${randomBytes(4).toString("hex")}`;
  afterAll(async () => {
    await launcher?.stop("SIGKILL");
    await deleteKeysAt({ REDIS_URL: redisUrl }, redisPrefix);
    await Promise.all(urls.map((url) => dropDatabase(url).catch(() => {})));
    await second?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates and migrates each database on its own server, and the worker runs on it", async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      NODE_ENV: "test",
      DATABASE_URL: "embedded",
      DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(port),
    };
    second = await resolvePostgres(loadConfig(env), env, capturingLogger().log);
    // Not created yet: the launcher must create and migrate them where their URLs point.
    const payments = withDatabase(second.url, `gozon_t_launcher_${randomBytes(4).toString("hex")}_payments`);
    const orders = uniqueTestDatabaseUrl("launcher_apart", "orders");
    const identity = uniqueTestDatabaseUrl("launcher_apart", "identity");
    urls.push(payments, orders, identity);

    launcher = startLauncher(
      "payments-worker",
      { orders, payments, identity },
      { REDIS_URL: redisUrl, REDIS_PREFIX: redisPrefix, METRICS_PORT: "0" },
    );
    await launcher.waitForOutput(/payments worker ready/, 90_000);

    const migrations = async (url: string) => {
      const db = createSqlPool(url);
      try {
        const [row] = await db.$queryRaw<Array<{ port: number; n: bigint }>>`
          SELECT inet_server_port() AS port, (SELECT count(*) FROM _prisma_migrations) AS n`;
        return row!;
      } finally {
        await db.$disconnect();
      }
    };
    const [onSecond, onFirst] = [await migrations(payments), await migrations(orders)];
    expect(onSecond.port).toBe(port);
    expect(onFirst.port).not.toBe(port);
    expect(Number(onSecond.n)).toBeGreaterThan(0);
    expect(Number(onFirst.n)).toBeGreaterThan(0);
    expect(Number((await migrations(identity)).n)).toBeGreaterThan(0);
    // No shared server was looked for: every service database was named.
    expect(launcher.output()).not.toMatch(/"msg":"Postgres: /);
    await launcher.stop("SIGTERM", 30_000);
  }, 240_000);
});
