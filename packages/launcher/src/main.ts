// `npm start`: finds or starts Postgres and Redis, migrates, then supervises the web process and the workers.
import path from "node:path";
import { parseArgs } from "node:util";
import { ensureDatabases } from "@gozon/db/databases";
import { migrateAll } from "@gozon/db/migrate";
import { DEV_ADMIN, loadConfigOrExit, repoRoot, serviceDatabaseUrls } from "@gozon/core/config";
import { InfraError, delay, reason, safeUrl } from "@gozon/core/infra/common";
import { resolvePostgres } from "@gozon/core/infra/postgres";
import { resolveRedis } from "@gozon/core/infra/redis";
import { describeRedisTarget } from "@gozon/core/infra/redis-client";
import { createLogger } from "@gozon/core/logger";
import { workerInstances } from "./instances.ts";
import { ensurePortFree } from "./ports.ts";
import { withRunSecret } from "./run-secret.ts";
import { supervise, type ChildSpec } from "./supervisor.ts";

const apps = {
  web: { dir: "apps/web", entry: "server.ts" },
  "orders-worker": { dir: "apps/orders-worker", entry: "src/main.ts" },
  "payments-worker": { dir: "apps/payments-worker", entry: "src/main.ts" },
} as const;
type AppName = keyof typeof apps;

const config = loadConfigOrExit();
const log = createLogger("launcher", config.LOG_LEVEL);

// Undone in reverse: the children first, then Redis and Postgres (only those this process started).
const cleanups: Array<() => Promise<void>> = [];
let running = false;
let stopRequested = false;
let exiting: Promise<never> | undefined;

function shutdown(code: number): Promise<never> {
  exiting ??= (async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => log.error({ err }, "cleanup failed"));
    }
    process.exit(code);
  })();
  return exiting;
}

function onSignal(signal: NodeJS.Signals) {
  if (stopRequested) {
    log.warn({ signal }, "second signal: exiting without waiting");
    process.exit(130); // the `exit` hooks still kill the children and the embedded servers
  }
  stopRequested = true;
  log.info({ signal }, "stopping");
  // During startup the current step finishes first (each is bounded), so nothing it starts is left behind.
  if (running) void shutdown(0);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);

async function stopIfRequested() {
  if (stopRequested) await shutdown(0);
}

function selectedApps(): AppName[] {
  const { values } = parseArgs({ options: { only: { type: "string" } } });
  if (values.only === undefined) return Object.keys(apps) as AppName[];
  const names = values.only.split(",").map((name) => name.trim());
  for (const name of names) {
    if (!(name in apps)) {
      throw new InfraError(`--only ${name}: unknown; choose from ${Object.keys(apps).join(", ")}`);
    }
  }
  return names as AppName[];
}

async function announceWhenHealthy(adminEmail: string | undefined, adminPassword: string | undefined) {
  const health = `http://127.0.0.1:${config.PORT}/api/health`;
  while (!stopRequested) {
    const ok = await fetch(health, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.ok)
      .catch(() => false);
    if (ok) {
      const login = adminPassword ? `${adminEmail} / ${adminPassword}` : adminEmail;
      log.info(
        { url: `http://localhost:${config.PORT}`, admin: adminEmail },
        `Gozon is running at http://localhost:${config.PORT}` + (login ? ` (admin login: ${login})` : ""),
      );
      return;
    }
    await delay(500);
  }
}

async function main() {
  const selected = selectedApps();
  if (selected.includes("web")) await ensurePortFree(config.PORT, "PORT");

  // With each service's database named on its own (maybe each on its own server), no shared one is needed.
  const everyServiceNamed =
    config.ORDERS_DATABASE_URL && config.PAYMENTS_DATABASE_URL && config.IDENTITY_DATABASE_URL;
  const postgres = everyServiceNamed ? undefined : await resolvePostgres(config, process.env, log);
  if (postgres) {
    cleanups.push(postgres.stop);
    log.info({ source: postgres.source, url: safeUrl(postgres.url) }, `Postgres: ${postgres.source}`);
  }
  await stopIfRequested();

  const redis = await resolveRedis(config, process.env, log);
  cleanups.push(redis.stop);
  const redisWhere = redis.source === "cluster" ? describeRedisTarget(config) : safeUrl(redis.url);
  log.info({ source: redis.source, url: redisWhere }, `Redis: ${redis.source}`);
  await stopIfRequested();

  const databases = serviceDatabaseUrls({ ...config, DATABASE_URL: postgres?.url ?? config.DATABASE_URL });
  for (const [service, url] of Object.entries(databases))
    log.info({ url: safeUrl(url) }, `${service} database`);
  await ensureDatabases(databases);
  await migrateAll(databases, log);
  await stopIfRequested();

  // The children run in their own folders (apps/…), where a relative REDIS_TLS_CA would name no file.
  const redisCaFile = process.env.REDIS_TLS_CA?.trim();
  const env = withRunSecret(
    {
      ...process.env,
      ...(postgres ? { DATABASE_URL: postgres.url } : {}),
      REDIS_URL: redis.url,
      ...(redisCaFile ? { REDIS_TLS_CA: path.resolve(redisCaFile) } : {}),
      PORT: String(config.PORT),
    },
    config,
  );
  let adminPassword: string | undefined;
  if (config.NODE_ENV === "development" && config.ADMIN_EMAIL === undefined) {
    env.ADMIN_EMAIL = DEV_ADMIN.email;
    env.ADMIN_PASSWORD = adminPassword = DEV_ADMIN.password;
    log.info({ email: DEV_ADMIN.email }, `development admin: ${DEV_ADMIN.email} / ${DEV_ADMIN.password}`);
  }
  if (config.NODE_ENV === "development") {
    log.warn(
      "development mode (NODE_ENV unset): fine on your machine, not on a network others reach; " +
        "for a deployment set NODE_ENV=production with secrets of your own (README, Configuration)",
    );
  }

  const child = (name: string, app: AppName, extraEnv: NodeJS.ProcessEnv = {}): ChildSpec => ({
    name,
    command: process.execPath,
    args: ["--import", "tsx", apps[app].entry],
    env: { ...env, ...extraEnv },
    cwd: path.join(repoRoot, apps[app].dir),
  });
  const children: ChildSpec[] = [
    ...(selected.includes("web") ? [child("web", "web")] : []),
    ...workerInstances(config)
      .filter(({ kind }) => selected.includes(kind))
      .map(({ kind, name, metricsPort }) =>
        child(name, kind, { WORKER_NAME: name, METRICS_PORT: String(metricsPort) }),
      ),
  ];
  const supervisor = supervise(children, log);
  cleanups.push(() => supervisor.stop());
  running = true;
  await stopIfRequested();

  if (selected.includes("web")) void announceWhenHealthy(env.ADMIN_EMAIL, adminPassword);
}

main().catch(async (error: unknown) => {
  // A person reads this: one line saying what is wrong, no stack (it is in the debug log).
  log.debug({ err: error }, "launcher failed");
  const message = error instanceof Error ? error.message : reason(error);
  process.stderr.write(`gozon: ${message.replace(/\s*\n\s*/g, " ")}\n`);
  await shutdown(1);
});
