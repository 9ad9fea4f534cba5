// docker/postgres/service-roles.sh (the postgres container's init script) against a real Postgres: one
// role per service database, the migration applied by those roles, and no role reaching another's
// database. Runs against the test server (DATABASE_URL or 127.0.0.1:5432) under a unique name prefix;
// skipped without psql or a reachable server.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const server = new URL(
  process.env.DATABASE_URL?.startsWith("postgres")
    ? process.env.DATABASE_URL
    : "postgres://postgres@127.0.0.1:5432/postgres",
);
const superuser = decodeURIComponent(server.username || "postgres");
const pgEnv = {
  PATH: process.env.PATH ?? "",
  PGHOST: server.hostname,
  PGPORT: server.port || "5432",
  ...(server.password ? { PGPASSWORD: decodeURIComponent(server.password) } : {}),
};
const reachable =
  spawnSync("psql", ["--version"]).status === 0 &&
  spawnSync("pg_isready", ["-h", pgEnv.PGHOST, "-p", pgEnv.PGPORT]).status === 0;

const prefix = `gozon_t_roles_${randomBytes(4).toString("hex")}`;
const passwords = {
  ORDERS_DB_PASSWORD: `o-${randomBytes(8).toString("hex")}`,
  PAYMENTS_DB_PASSWORD: `p-${randomBytes(8).toString("hex")}`,
  IDENTITY_DB_PASSWORD: `i-${randomBytes(8).toString("hex")}`,
};
const services = ["orders", "payments", "identity"] as const;
const role = (service: (typeof services)[number]) => `${prefix}_${service}`;
const urlOf = (service: (typeof services)[number], database = role(service)) => {
  const url = new URL(server);
  url.username = role(service);
  url.password = passwords[`${service.toUpperCase()}_DB_PASSWORD` as keyof typeof passwords];
  url.pathname = `/${database}`;
  return url.toString();
};

const runScript = () =>
  spawnSync("sh", [path.join(repoRoot, "docker/postgres/service-roles.sh")], {
    encoding: "utf8",
    env: { ...pgEnv, POSTGRES_USER: superuser, SERVICE_DB_PREFIX: prefix, ...passwords },
  });

/** psql as the given role on its URL: `{status, out, err}` of `-c sql`. */
const psql = (url: string, sql: string) => {
  const result = spawnSync("psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql], {
    encoding: "utf8",
    env: { PATH: pgEnv.PATH },
  });
  return { status: result.status, out: result.stdout.trim(), err: result.stderr };
};

describe.skipIf(!reachable)("docker/postgres/service-roles.sh", () => {
  afterAll(() => {
    const drop = services
      .map((s) => `DROP DATABASE IF EXISTS "${role(s)}" WITH (FORCE); DROP ROLE IF EXISTS "${role(s)}";`)
      .join("\n");
    spawnSync("psql", ["-X", "-q", "-U", superuser, "-d", "postgres"], { input: drop, env: pgEnv });
  });

  it("creates a role per service database, migrations run as those roles, and no role reaches another's data", () => {
    const first = runScript();
    expect(first.status, first.stderr).toBe(0);
    // Idempotent: the operator may run it again on an existing volume.
    const again = runScript();
    expect(again.status, again.stderr).toBe(0);

    // The compose migration one-shot, connecting as the roles (not as the superuser).
    const migrate = spawnSync("npm", ["run", "migrate", "-w", "@gozon/db"], {
      cwd: repoRoot,
      encoding: "utf8",
      env: {
        ...process.env,
        DATABASE_URL: "",
        LOG_LEVEL: "warn",
        ORDERS_DATABASE_URL: urlOf("orders"),
        PAYMENTS_DATABASE_URL: urlOf("payments"),
        IDENTITY_DATABASE_URL: urlOf("identity"),
      },
    });
    expect(migrate.status, `${migrate.stdout}\n${migrate.stderr}`).toBe(0);

    for (const service of services) {
      const own = psql(
        urlOf(service),
        "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = current_user",
      );
      expect(own, service).toMatchObject({ status: 0, out: "f" });
      // Its own tables are its own (created by it through the migration).
      const owners = psql(
        urlOf(service),
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
      );
      expect(owners, service).toMatchObject({ status: 0, out: role(service) });
      for (const other of services.filter((s) => s !== service)) {
        const foreign = psql(urlOf(service, role(other)), "SELECT 1");
        expect(foreign.status, `${service} → ${other}`).not.toBe(0);
        expect(foreign.err, `${service} → ${other}`).toMatch(/permission denied for database/);
      }
    }
    const orders = psql(urlOf("orders"), "SELECT count(*) FROM orders");
    expect(orders).toMatchObject({ status: 0, out: "0" });
  });
});
