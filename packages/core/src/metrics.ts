// Prometheus metrics: one registry per process, exposed at GET /api/metrics.
import http from "node:http";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { Logger } from "./logger.ts";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

export const METRICS_PATH = "/api/metrics";

export function createRegistry(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Answers a metrics scrape; false when the request is for another path. */
export async function handleMetricsRequest(
  registry: Registry,
  req: http.IncomingMessage,
  res: http.ServerResponse,
) {
  if ((req.url ?? "").split("?")[0] !== METRICS_PATH) return false;
  const body = await registry.metrics();
  res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
  res.end(body);
  return true;
}

/**
 * A worker has no web server of its own: this small one serves only /api/metrics. Port 0 disables it. A
 * busy port (a second worker on the same machine) costs the metrics, never the worker.
 */
export async function serveMetrics(registry: Registry, port: number, log: Logger) {
  if (port === 0) return { close: async () => {} };
  const server = http.createServer((req, res) => {
    handleMetricsRequest(registry, req, res)
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
