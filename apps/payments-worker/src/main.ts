import { Redis } from "ioredis";
import { loadConfigOrExit, serviceDatabaseUrls } from "@gozon/core/config";
import { checkRedisPolicy } from "@gozon/core/infra/redis";
import { onShutdown } from "@gozon/core/lifecycle";
import { createLogger } from "@gozon/core/logger";
import { createPaymentsClient } from "@gozon/db/clients";

const config = loadConfigOrExit();
const log = createLogger("payments-worker", config.LOG_LEVEL);

try {
  const db = createPaymentsClient(serviceDatabaseUrls(config).payments);
  await db.$queryRaw`SELECT 1`;
  // BullMQ needs maxRetriesPerRequest: null so a blocked worker connection is never failed by ioredis.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  await redis.ping();
  await checkRedisPolicy(redis, log);
  log.info("payments worker ready");

  onShutdown(log, async () => {
    redis.disconnect();
    await db.$disconnect();
  });
} catch (err) {
  log.fatal({ err }, "payments worker failed to start");
  process.exit(1);
}
