import { randomUUID } from "node:crypto";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { freePort, startProcess, waitFor, type RunningProcess } from "@gozon/core/testing";
import { createTestDatabases } from "@gozon/db/testing";
import { deleteKeysAt } from "@gozon/messaging/testing";

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("web process", () => {
  let dbs: Awaited<ReturnType<typeof createTestDatabases>>;
  const started: RunningProcess[] = [];
  const redisPrefix = `test-web-${process.pid}`;

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
        REDIS_PREFIX: redisPrefix,
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
    await deleteKeysAt({ REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" }, redisPrefix);
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
      checks: { ordersDb: "ok", paymentsDb: "ok", identityDb: "ok", redis: "ok", revocations: "ok" },
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

  it("stops on SIGTERM in time though a WebSocket client never answers the close", async () => {
    const { web, base } = await startWeb({});
    const socket = new WebSocket(`${base.replace("http", "ws")}/api/trpc-ws`);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    // It reads nothing more: the server's close frame is never answered.
    (socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const stoppedAt = Date.now();
    expect(await web.stop("SIGTERM")).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(8_000);
    socket.terminate();
  });

  it("stops on SIGTERM while keep-alive clients keep it busy: requests in flight finish, no new ones come", async () => {
    const { web, base } = await startWeb({});
    const registered = await fetch(`${base}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `keepalive-${randomUUID()}@example.test`, password: "Correct-Horse-9" }),
    });
    expect(registered.status).toBe(201);
    const { accessToken } = (await registered.json()) as { accessToken: string };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const answered: number[] = [];
    /** Each client places its next order the moment the last is answered, on the same connection. */
    const client = async () => {
      for (;;) {
        const status = await new Promise<number | "gone">((resolve) => {
          const body = JSON.stringify({ amount: 1, description: "kept alive" });
          http
            .request(
              `${base}/api/v1/orders`,
              {
                method: "POST",
                agent,
                headers: { "content-type": "application/json", authorization: `Bearer ${accessToken}` },
              },
              (res) => {
                res.resume();
                res.on("end", () => resolve(res.statusCode ?? 0));
              },
            )
            .on("error", () => resolve("gone"))
            .end(body);
        });
        if (status === "gone") return;
        answered.push(status);
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await waitFor(() => answered.length > 20 || undefined, { what: "the clients busy" });
    const stoppedAt = Date.now();
    expect(await web.stop("SIGTERM")).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(8_000);
    expect(web.output()).not.toContain("shutdown timed out");
    await Promise.all(clients);
    agent.destroy();
    expect(new Set(answered)).toEqual(new Set([201]));
  });

  it("answers requests Node cannot parse with JSON errors, and still upgrades WebSockets", async () => {
    const { web, base } = await startWeb({});
    const tooLong = await fetch(`${base}/api/v1/orders?q=${"x".repeat(20_000)}`);
    expect(tooLong.status).toBe(431);
    expect(tooLong.headers.get("content-type")).toMatch(/^application\/json/);
    expect(tooLong.headers.get("connection")).toBe("close");
    expect(await tooLong.json()).toEqual({
      error: { code: "REQUEST_HEADER_FIELDS_TOO_LARGE", message: expect.stringMatching(/16 KiB/) },
    });

    const malformed = await rawExchange(base, "GET /api/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    const [head = "", body] = malformed.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/^content-type: application\/json/im);
    expect(JSON.parse(body ?? "")).toEqual({ error: { code: "BAD_REQUEST", message: expect.any(String) } });

    // The tRPC WebSocket shares the server: an anonymous subscription is refused over the socket.
    const socket = new WebSocket(`${base.replace("http", "ws")}/api/trpc-ws`);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    socket.send(
      JSON.stringify({ id: 1, method: "subscription", params: { path: "orders.onStatusChange", input: {} } }),
    );
    const reply = await new Promise<string>((resolve) =>
      socket.once("message", (data) => resolve(String(data))),
    );
    expect(JSON.parse(reply)).toMatchObject({ id: 1, error: { data: { code: "UNAUTHORIZED" } } });
    socket.close();

    expect(await web.stop("SIGTERM")).toBe(0);
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
    // The part is named; the driver's message (addresses, versions) stays in the log.
    expect(body.checks).toEqual({
      redis: "unavailable",
      ordersDb: "ok",
      paymentsDb: "ok",
      identityDb: "ok",
      // Read from the identity database: an instance without Redis still refuses revoked sessions.
      revocations: "ok",
    });
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|connect/i);
    expect(await web.stop("SIGINT")).toBe(0);
  });

  it("puts the security headers on pages, API errors and API successes; HSTS only over HTTPS", async () => {
    const { web, base } = await startWeb({});
    const common = (res: Response, what: string) => {
      expect(res.headers.get("x-content-type-options"), what).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), what).toBe("strict-origin-when-cross-origin");
      expect(res.headers.get("x-frame-options"), what).toBe("DENY");
      expect(res.headers.get("content-security-policy"), what).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get("strict-transport-security"), what).toBeNull();
    };
    for (const page of ["/", "/login"]) {
      const res = await fetch(`${base}${page}`);
      expect(res.status, page).toBe(200);
      common(res, page);
      const csp = res.headers.get("content-security-policy")!;
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      expect(nonce, page).toBeTruthy();
      expect(csp).not.toContain("unsafe-eval");
      expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
      // Every script Next rendered carries this response's nonce.
      const html = await res.text();
      const scripts = html.match(/<script\b[^>]*>/g) ?? [];
      expect(scripts.length, page).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    }
    // Each page view has a nonce of its own.
    const nonces = await Promise.all(
      [1, 2].map(async () => (await fetch(`${base}/login`)).headers.get("content-security-policy")),
    );
    expect(nonces[0]).not.toBe(nonces[1]);

    const unauthorized = await fetch(`${base}/api/v1/auth/me`);
    expect(unauthorized.status).toBe(401);
    common(unauthorized, "API 401");
    expect(unauthorized.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    const ok = await fetch(`${base}/api/health`);
    expect(ok.status).toBe(200);
    common(ok, "API 200");
    const trpc = await fetch(`${base}/api/trpc/auth.me`);
    common(trpc, "tRPC 401");

    // A forged X-Forwarded-Proto is ignored without TRUST_PROXY.
    const forged = await fetch(`${base}/api/health`, { headers: { "x-forwarded-proto": "https" } });
    expect(forged.headers.get("strict-transport-security")).toBeNull();
    expect(await web.stop("SIGTERM")).toBe(0);

    const proxied = await startWeb({ TRUST_PROXY: "true" });
    const https = await fetch(`${proxied.base}/login`, { headers: { "x-forwarded-proto": "https" } });
    expect(https.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
    const http = await fetch(`${proxied.base}/login`);
    expect(http.headers.get("strict-transport-security")).toBeNull();
    expect(await proxied.web.stop("SIGTERM")).toBe(0);
  });

  it("with METRICS_TOKEN, /api/metrics answers only its bearer token", async () => {
    const token = "web-metrics-token-for-this-test";
    const { web, base } = await startWeb({ METRICS_TOKEN: token });
    for (const headers of [
      {} as Record<string, string>,
      { authorization: "Bearer nope-nope-nope" },
      { authorization: token },
    ]) {
      const refused = await fetch(`${base}/api/metrics`, { headers });
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
    const res = await fetch(`${base}/api/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("gozon_orders_created_total");
    expect(await web.stop("SIGTERM")).toBe(0);
  });

  it("refuses to start outside development with a development secret, naming the variable", async () => {
    const port = await freePort();
    const web = startProcess("node", ["--import", "tsx", "server.ts"], {
      cwd: webDir,
      env: {
        ...process.env,
        PORT: String(port),
        NODE_ENV: "production",
        JWT_SECRET: "gozon-development-secret-change-me-in-production",
        MESSAGE_SIGNING_KEY: "gozon-development-message-key-change-me-in-production",
        ADMIN_EMAIL: "admin@example.com",
        ADMIN_PASSWORD: "gozon-admin",
      },
    });
    started.push(web);
    expect(await web.exited).toBe(78);
    expect(web.output()).toMatch(/JWT_SECRET is a development default/);
    expect(web.output()).toMatch(/ADMIN_PASSWORD is a development default/);
    expect(web.output()).toMatch(/MESSAGE_SIGNING_KEY is a development default/);
    expect(web.output()).not.toContain("gozon-development-secret-change-me-in-production");
  });
});

/** Writes `request` as is and resolves to all the server sent back before it closed the connection. */
function rawExchange(base: string, request: string) {
  const { hostname, port } = new URL(base);
  return new Promise<string>((resolve) => {
    let answer = "";
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => resolve(answer));
  });
}
