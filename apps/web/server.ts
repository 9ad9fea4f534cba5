import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfigOrExit } from "@gozon/core/config";
import { onShutdown } from "@gozon/core/lifecycle";
import { createLogger } from "@gozon/core/logger";
import { startWebServer } from "./src/server/web-server.ts";

const config = loadConfigOrExit();
const log = createLogger("web", config.LOG_LEVEL);
const dir = path.dirname(fileURLToPath(import.meta.url));

try {
  const server = await startWebServer({ config, log, dir, dev: process.env.NEXT_DEV === "1" });
  onShutdown(log, () => server.close());
} catch (err) {
  log.fatal({ err }, "web failed to start");
  process.exit(1);
}
