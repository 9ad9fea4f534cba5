// One-shot migration (docker compose's `migrate` service, or by hand): creates the service databases
// if missing and applies pending migrations. Exit 0 means every database is up to date.
import { databaseName, loadConfigOrExit, serviceDatabaseUrls } from "@gozon/core/config";
import { createLogger } from "@gozon/core/logger";
import { ensureDatabases } from "../databases.ts";
import { migrateAll } from "../migrate.ts";

const config = loadConfigOrExit();
const log = createLogger("migrate", config.LOG_LEVEL);
const urls = serviceDatabaseUrls(config);

try {
  await ensureDatabases(urls);
  const result = await migrateAll(urls, log);
  const applied = Object.values(result).reduce((sum, r) => sum + r.applied.length, 0);
  log.info({ databases: Object.values(urls).map(databaseName), applied }, "databases are up to date");
} catch (error) {
  log.error({ err: error }, "migration failed");
  // exitCode rather than exit(): lets the logger flush before the process ends.
  process.exitCode = 1;
}
