// The compose gateway's nginx config (docker/gateway/nginx.conf), run for real in front of two web
// instances: REST, Swagger UI, the Postman collection and a WebSocket subscription all go through it over
// plain HTTP, as docker-compose.yml runs it; a second nginx adds TLS as docker-compose.tls.yml does
// (docker/gateway/tls.conf.template rendered for TLS_PORT, a self-signed certificate made here), where
// plain HTTP only redirects to HTTPS and answers the health probes.
// Skipped when nginx or openssl is not installed (Debian: apt-get install nginx openssl).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import https from "node:https";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import newman, { type NewmanRunSummary } from "newman";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { freePort, waitFor } from "@gozon/core/testing";
import { COLLECTION_FILE } from "../../../scripts/postman.ts";
import { apiClient } from "../src/client.ts";
import { subscribeFeed } from "../src/live.ts";
import { ADMIN, startSystem, type System } from "../src/system.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const nginxBinary = [process.env.NGINX_PATH, "nginx", "/usr/sbin/nginx"].find(
  (candidate) => candidate && spawnSync(candidate, ["-v"]).status === 0,
);

const unavailable = !nginxBinary || spawnSync("openssl", ["version"]).status !== 0;

/** Upgrades to the tRPC WebSocket with a browser's `Origin`: the status the gateway passed back. */
function upgradeStatus(url: string, origin: string, ca?: string) {
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, { origin, ...(ca ? { ca } : {}) });
    ws.once("open", () => {
      // Resolved once closed: a socket still open would count against the gateway's cap in what follows.
      ws.once("close", () => resolve(101));
      ws.close();
    });
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
    ws.once("error", reject);
  });
}

/** GET over HTTPS trusting only `ca` (the test's self-signed certificate). */
function httpsGet(url: string, ca: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    https
      .get(url, { ca, servername: "localhost" }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

/**
 * What the nginx image's entrypoint does to a template (envsubst with the container's variables):
 * `${NAME}` and `$NAME` of a variable that is set are replaced, everything else (nginx's own) stays.
 */
const renderTemplate = (template: string, env: Record<string, string>) =>
  template.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const value = env[(braced ?? bare) as string];
    return value ?? whole;
  });

type Gateway = { url: string; nginx: ChildProcess };

describe.skipIf(unavailable)("gateway (docker/gateway/nginx.conf) in front of two web instances", () => {
  let system: System;
  const gateways: Gateway[] = [];
  /** docker-compose.yml alone: plain HTTP serves the shop. */
  let gateway: string;
  /** With docker-compose.tls.yml: plain HTTP (redirects and health probes) and HTTPS on TLS_PORT. */
  let plainWithTls: string;
  let tlsPort: number;
  let tlsGateway: string;
  let certificate: string;
  const dir = mkdtempSync(path.join(os.tmpdir(), "gozon-gateway-"));

  /** Runs nginx.conf as the compose gateway does, with TLS as docker-compose.tls.yml enables it when asked. */
  async function startGateway(name: string, upstreams: string[], tls?: { port: number }): Promise<Gateway> {
    const root = path.join(dir, name);
    const port = await freePort();
    const site = readFileSync(path.join(repoRoot, "docker/gateway/nginx.conf"), "utf8")
      .replace("server web-1:3000", `server ${upstreams[0]}`)
      .replace("server web-2:3000", `server ${upstreams[1]}`)
      .replace(/listen 80;/, `listen 127.0.0.1:${port};`)
      .replace("include /etc/nginx/tls.d/*.conf;", `include ${root}/tls.d/*.conf;`);
    expect(site).not.toMatch(/web-[12]:3000/);
    expect(site).toContain(`${root}/tls.d/`);
    mkdirSync(path.join(root, "tls.d"), { recursive: true });
    if (tls) {
      // The template as the image renders it from docker-compose.tls.yml's environment (TLS_PORT), then
      // moved from the container's ports and paths to the test's.
      const template = readFileSync(path.join(repoRoot, "docker/gateway/tls.conf.template"), "utf8");
      const conf = renderTemplate(template, { TLS_PORT: String(tls.port) })
        .replace(/listen 443 ssl;/, `listen 127.0.0.1:${tls.port} ssl;`)
        .replaceAll("/etc/nginx/certs/", `${dir}/certs/`);
      const directives = conf.replace(/^\s*#.*$/gm, "");
      expect(directives).not.toContain("/etc/nginx/");
      expect(directives).not.toMatch(/\$\{/);
      writeFileSync(path.join(root, "tls.d/tls.conf"), conf);
    }
    // The nginx image includes the site config inside its http block; this is that block.
    for (const sub of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(path.join(root, sub));
    writeFileSync(path.join(root, "site.conf"), site);
    writeFileSync(
      path.join(root, "nginx.conf"),
      [
        "daemon off;",
        "worker_processes 1;",
        `pid ${root}/nginx.pid;`,
        `error_log ${root}/error.log warn;`,
        "events {}",
        "http {",
        "  access_log off;",
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
          (sub) => `  ${sub}_temp_path ${root}/${sub};`,
        ),
        "  proxy_max_temp_file_size 0;",
        `  include ${root}/site.conf;`,
        "}",
      ].join("\n"),
    );
    chmodSync(root, 0o755); // nginx's workers may run as another user when the tests run as root
    const nginx = spawn(nginxBinary as string, ["-p", root, "-c", path.join(root, "nginx.conf")], {
      stdio: "pipe",
    });
    let output = "";
    nginx.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const started: Gateway = { url: `http://127.0.0.1:${port}`, nginx };
    gateways.push(started);
    // Any answer will do (the health probe's own status is a test of its own).
    await waitFor(
      async () => await fetch(`${started.url}/gateway-health`, { redirect: "manual" }).catch(() => undefined),
      { timeoutMs: 15_000, what: `the ${name} gateway` },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${output}`);
    });
    return started;
  }

  beforeAll(async () => {
    system = await startSystem({ webInstances: 2, env: { TRUST_PROXY: "true" } });
    const upstreams = system.webUrls.map((url) => new URL(url).host);
    // TLS_CERT_DIR: the certificate and its key, as docker-compose.tls.yml mounts them.
    mkdirSync(path.join(dir, "certs"));
    const made = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        .concat(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .concat(["-keyout", path.join(dir, "certs/tls.key"), "-out", path.join(dir, "certs/tls.crt")]),
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    certificate = readFileSync(path.join(dir, "certs/tls.crt"), "utf8");
    chmodSync(dir, 0o755);
    gateway = (await startGateway("plain", upstreams)).url;
    // Not 443: the redirect has to name the port HTTPS is published on.
    tlsPort = await freePort();
    plainWithTls = (await startGateway("tls", upstreams, { port: tlsPort })).url;
    tlsGateway = `https://localhost:${tlsPort}`;
  });

  afterAll(async () => {
    for (const { nginx } of gateways) {
      if (nginx.exitCode !== null) continue;
      const exited = new Promise((resolve) => nginx.once("exit", resolve));
      nginx.kill("SIGQUIT");
      await exited;
    }
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes the Host (with its port) and sets X-Forwarded-Proto itself", async () => {
    const res = await fetch(`${gateway}/api/openapi.json`, { headers: { "x-forwarded-proto": "https" } });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { servers: { url: string }[] };
    // The client's forged header is replaced by the gateway's own scheme.
    expect(doc.servers[0]?.url).toBe(`${gateway}/api/v1`);
  });

  it("never routes /api/metrics (or anything under it) to the apps", async () => {
    for (const probe of [
      "/api/metrics",
      "/api/metrics/",
      "/api/metrics?x=1",
      "/api//metrics",
      "/api/metrics/x",
    ]) {
      const res = await fetch(`${gateway}${probe}`);
      expect(res.status, probe).toBe(404);
      expect(await res.text(), probe).not.toContain("gozon_");
    }
    // The apps do serve it (to the scraper inside the network): the gateway is what hides it.
    expect((await fetch(`${system.webUrls[0]}/api/metrics`)).status).not.toBe(404);
  });

  it("terminates TLS with the mounted certificate and tells the apps the scheme is https", async () => {
    const health = await httpsGet(`${tlsGateway}/api/health`, certificate);
    expect(health).toEqual({ status: 200, body: JSON.stringify({ status: "ok" }) });
    const doc = await httpsGet(`${tlsGateway}/api/openapi.json`, certificate);
    expect(doc.status).toBe(200);
    expect((JSON.parse(doc.body) as { servers: { url: string }[] }).servers[0]?.url).toBe(
      `${tlsGateway}/api/v1`,
    );
    expect((await httpsGet(`${tlsGateway}/api/metrics`, certificate)).status).toBe(404);
    // A client that does not trust the certificate is refused: it really is the mounted one.
    await expect(httpsGet(`${tlsGateway}/api/health`, "")).rejects.toThrow();
  });

  it("without TLS, serves the shop over plain HTTP", async () => {
    const res = await fetch(`${gateway}/api/openapi.json?from=plain`, { redirect: "manual" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { servers: { url: string }[] }).servers[0]?.url).toBe(`${gateway}/api/v1`);
    const post = await fetch(`${gateway}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: ADMIN.email, password: ADMIN.password }),
      redirect: "manual",
    });
    expect(post.status).toBe(200);
  });

  it("with TLS, redirects plain HTTP to HTTPS on TLS_PORT: 308 for every method, same path and query", async () => {
    const target = "/api/v1/orders?limit=5&note=a%20b";
    for (const method of ["GET", "HEAD", "POST", "PUT", "DELETE"]) {
      const res = await fetch(`${plainWithTls}${target}`, {
        method,
        redirect: "manual",
        ...(method === "POST" || method === "PUT"
          ? { headers: { "content-type": "application/json" }, body: "{}" }
          : {}),
      });
      expect(res.status, method).toBe(308);
      expect(res.headers.get("location"), method).toBe(`https://127.0.0.1:${tlsPort}${target}`);
      await res.arrayBuffer();
    }
    // The Location leads to the shop over HTTPS, and the app sees it as such.
    const location = (
      await fetch(`${plainWithTls}/api/openapi.json?x=1`, { redirect: "manual" })
    ).headers.get("location");
    expect(location).toBe(`https://127.0.0.1:${tlsPort}/api/openapi.json?x=1`);
    const doc = await httpsGet(location as string, certificate);
    expect(doc.status).toBe(200);
    expect((JSON.parse(doc.body) as { servers: { url: string }[] }).servers[0]?.url).toBe(
      `https://127.0.0.1:${tlsPort}/api/v1`,
    );
    // Pages, and the WebSocket (a page served over HTTPS opens it over wss).
    const page = await fetch(`${plainWithTls}/`, { redirect: "manual" });
    expect(page.status).toBe(308);
    expect(page.headers.get("location")).toBe(`https://127.0.0.1:${tlsPort}/`);
    expect(await upgradeStatus(`${plainWithTls.replace(/^http/, "ws")}/api/trpc-ws`, plainWithTls)).toBe(308);
  });

  it("with TLS, still answers the health probes over plain HTTP, and only those", async () => {
    for (const probe of ["/gateway-health", "/api/health", "/api/health?probe=1", "/api/ready"]) {
      const res = await fetch(`${plainWithTls}${probe}`, { redirect: "manual" });
      expect(res.status, probe).toBe(200);
      await res.arrayBuffer();
    }
    // Look-alikes are redirected like any other path.
    for (const probe of [
      "/api/healthz",
      "/api//health",
      "/api/health/x",
      "/api/ready.json",
      "/gateway-health/",
    ]) {
      const res = await fetch(`${plainWithTls}${probe}`, { redirect: "manual" });
      expect(res.status, probe).toBe(308);
      expect(res.headers.get("location"), probe).toBe(`https://127.0.0.1:${tlsPort}${probe}`);
      await res.arrayBuffer();
    }
  });

  it("lets the app's own pages open the WebSocket, over HTTP and HTTPS, and refuses a foreign page", async () => {
    const ws = (base: string) => `${base.replace(/^http/, "ws")}/api/trpc-ws`;
    // The gateway passes the browser's Host and its own scheme: the app's default origin is the public one.
    expect(await upgradeStatus(ws(gateway), gateway)).toBe(101);
    expect(await upgradeStatus(ws(tlsGateway), tlsGateway, certificate)).toBe(101);
    expect(await upgradeStatus(ws(gateway), "http://evil.example")).toBe(403);
    // The page over HTTP is not the page over HTTPS.
    expect(await upgradeStatus(ws(tlsGateway), gateway.replace("127.0.0.1", "localhost"), certificate)).toBe(
      403,
    );
  });

  it("holds at most 100 WebSockets open per client address: the next upgrade is a 429 until one closes", async () => {
    const url = `${gateway.replace(/^http/, "ws")}/api/trpc-ws`;
    // Opened at once and never signed in: well within the 10 s the app gives an anonymous socket.
    const sockets = Array.from({ length: 100 }, () => new WebSocket(url, { origin: gateway }));
    try {
      const opened = await Promise.allSettled(
        sockets.map(
          (ws) =>
            new Promise<void>((resolve, reject) => {
              ws.once("open", () => resolve());
              ws.once("error", reject);
            }),
        ),
      );
      expect(opened.filter((result) => result.status === "rejected")).toEqual([]);
      expect(await upgradeStatus(url, gateway)).toBe(429);
      const closed = new Promise((resolve) => sockets[0]!.once("close", resolve));
      sockets[0]!.close();
      await closed;
      await waitFor(async () => (await upgradeStatus(url, gateway)) === 101, {
        what: "an upgrade once a socket closed",
      });
    } finally {
      const gone = sockets.map((ws) =>
        ws.readyState === WebSocket.CLOSED ? undefined : new Promise((resolve) => ws.once("close", resolve)),
      );
      for (const ws of sockets) ws.terminate();
      await Promise.all(gone);
    }
  });

  it("serves Swagger UI and its assets", async () => {
    for (const asset of ["/api/docs", "/api/docs/swagger-ui.css", "/api/docs/swagger-ui-bundle.js"]) {
      const res = await fetch(`${gateway}${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
  });

  it("carries a WebSocket subscription: the order's settlement reaches the subscriber", async () => {
    const email = `gateway-${Date.now()}@shop.test`;
    const { accessToken } = await apiClient(gateway).register(email, "password-123");
    const api = apiClient(gateway, accessToken);
    await api.createAccount();
    await api.topUp(10_000);
    const feed = subscribeFeed(gateway, accessToken, "orders.onStatusChange");
    try {
      await waitFor(() => feed.isStarted(), { timeoutMs: 15_000, what: "the subscription" });
      const { order } = await api.createOrder(4_000, "through the gateway");
      const settled = await waitFor(
        () => feed.events.find((event) => event.orderId === order.id && event.status !== "NEW"),
        { timeoutMs: 30_000, what: "the order's settlement event" },
      );
      expect(settled.status).toBe("FINISHED");
      expect(feed.errors).toEqual([]);
    } finally {
      feed.close();
    }
  });

  it("runs the Postman collection through it with no failures", async () => {
    const summary = await new Promise<NewmanRunSummary>((resolve, reject) => {
      newman.run(
        {
          collection: JSON.parse(readFileSync(COLLECTION_FILE, "utf8")) as object,
          envVar: [
            { key: "baseUrl", value: `${gateway}/api/v1` },
            { key: "adminEmail", value: ADMIN.email },
            { key: "adminPassword", value: ADMIN.password },
            { key: "pollIntervalMs", value: "200" },
          ],
          reporters: [],
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      );
    });
    expect(
      summary.run.failures.map((failure) => `${failure.source?.name}: ${failure.error.message}`),
    ).toEqual([]);
  });
});
