import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startProcess, waitFor, type RunningProcess } from "@gozon/core/testing";
import { createTestDatabases } from "@gozon/db/testing";

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("web process", () => {
  let dbs: Awaited<ReturnType<typeof createTestDatabases>>;
  const started: RunningProcess[] = [];

  const startWeb = async (env: Record<string, string>) => {
    const port = await freePort();
    const web = startProcess("node", ["--import", "tsx", "server.ts"], {
      cwd: webDir,
      env: {
        ...process.env,
        PORT: String(port),
        ORDERS_DATABASE_URL: dbs.urls.orders,
        PAYMENTS_DATABASE_URL: dbs.urls.payments,
        IDENTITY_DATABASE_URL: dbs.urls.identity,
        REDIS_PREFIX: `test-web-${process.pid}`,
        ...env,
      },
    });
    started.push(web);
    await web.waitForOutput(/web ready on/);
    return { web, base: `http://127.0.0.1:${port}` };
  };

  beforeAll(async () => {
    dbs = await createTestDatabases("web");
  });
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop("SIGKILL")));
    await dbs?.drop();
  });

  it("serves health, readiness and the home page, and stops cleanly on SIGTERM", async () => {
    const { web, base } = await startWeb({});
    const health = await fetch(`${base}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    const ready = await fetch(`${base}/api/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      checks: { ordersDb: "ok", paymentsDb: "ok", identityDb: "ok", redis: "ok" },
    });

    const metrics = await fetch(`${base}/api/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    for (const name of [
      "gozon_orders_created_total",
      "gozon_websocket_clients",
      "process_cpu_seconds_total",
    ]) {
      expect(text).toContain(name);
    }

    const home = await fetch(base);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("Gozon");

    expect(await web.stop("SIGTERM")).toBe(0);
    expect(web.output()).toContain('"msg":"stopped"');
  });

  it("answers 503 naming the part that is down", async () => {
    const deadPort = await freePort();
    const { web, base } = await startWeb({ REDIS_URL: `redis://127.0.0.1:${deadPort}` });
    const ready = await waitFor(async () => {
      const res = await fetch(`${base}/api/ready`);
      return res.status === 503 ? res : null;
    });
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe("unavailable");
    expect(body.checks.redis).not.toBe("ok");
    expect(body.checks.ordersDb).toBe("ok");
    expect(await web.stop("SIGINT")).toBe(0);
  });
});
