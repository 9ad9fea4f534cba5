// Prometheus metrics: one registry per process, exposed at GET /api/metrics.
import { createHash, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { Logger } from "./logger.ts";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

export const METRICS_PATH = "/api/metrics";

/**
 * How often the event-loop lag is sampled (ms). prom-client's default, 10 ms, is a timer that wakes an
 * idle process 100 times a second; on a virtual machine each wake-up costs real CPU (each idle service
 * counted about 100 sleeps a second, 11–18 with this). At 100 ms a stall of the loop still shows in the
 * lag figures, by the lateness of the sample it delays.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createRegistry(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Whether the request carries `Authorization: Bearer <token>`. Compared in constant time (over digests,
 * which have equal lengths whatever was sent), so the answer time tells nothing about the token.
 */
export function hasBearerToken(req: http.IncomingMessage, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  const presented = match?.[1] ?? "";
  return timingSafeEqual(digest(presented), digest(token)) && presented.length > 0;
}

/**
 * Answers a metrics scrape; false when the request is for another path. With a `token` (METRICS_TOKEN)
 * only `Authorization: Bearer <token>` gets the metrics, anything else a JSON 401.
 */
export async function handleMetricsRequest(
  registry: Registry,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  token?: string,
) {
  if ((req.url ?? "").split("?")[0] !== METRICS_PATH) return false;
  if (token !== undefined && !hasBearerToken(req, token)) {
    res.writeHead(401, {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "www-authenticate": 'Bearer realm="metrics"',
    });
    res.end(
      JSON.stringify({
        error: { code: "UNAUTHORIZED", message: "Metrics need `Authorization: Bearer <METRICS_TOKEN>`" },
      }),
    );
    return true;
  }
  const body = await registry.metrics();
  res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
  res.end(body);
  return true;
}

/**
 * A worker has no web server of its own: this small one serves only /api/metrics. Port 0 disables it. A
 * busy port (a second worker on the same machine) costs the metrics, never the worker.
 */
export async function serveMetrics(registry: Registry, port: number, log: Logger, token?: string) {
  if (port === 0) return { close: async () => {} };
  const server = http.createServer((req, res) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    handleMetricsRequest(registry, req, res, token)
      .then((handled) => {
        if (!handled) res.writeHead(404).end();
      })
      .catch((err: unknown) => {
        log.error({ err }, "metrics scrape failed");
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once("error", (err) => {
      log.warn({ err, port }, "metrics port unavailable; metrics disabled");
      resolve(false);
    });
    server.listen(port, () => resolve(true));
  });
  if (listening) log.info({ port, path: METRICS_PATH }, "metrics served");
  return {
    close: () => new Promise<void>((resolve) => (listening ? server.close(() => resolve()) : resolve())),
  };
}
