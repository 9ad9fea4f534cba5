// What can be checked of the containers without a Docker engine: the compose file validates, every
// Dockerfile copies only what exists, every command runs something the repository defines, the gateway
// proxies WebSocket upgrades, Redis keeps its data, and the services' environment passes the config schema.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "@gozon/core/config";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");
const readJson = <T>(file: string) => JSON.parse(read(file)) as T;
const exists = (file: string) => existsSync(path.join(repoRoot, file));

type PackageJson = {
  name: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

/** Each app's image: its Dockerfile and the build args compose passes (the workers share one Dockerfile). */
const IMAGES = [
  { app: "web", dockerfile: "apps/web/Dockerfile", args: {} },
  {
    app: "orders-worker",
    dockerfile: "docker/worker.Dockerfile",
    args: { WORKER: "orders-worker", METRICS_PORT: "9464" },
  },
  {
    app: "payments-worker",
    dockerfile: "docker/worker.Dockerfile",
    args: { WORKER: "payments-worker", METRICS_PORT: "9465" },
  },
] as const satisfies ReadonlyArray<{ app: string; dockerfile: string; args: Record<string, string> }>;
/** In every image the pruned repository sits at /app. */
const IMAGE_ROOT = "/app";

// ---------------------------------------------------------------------------------------------------
// The repository's workspaces and scripts.

function workspaces(): Map<string, { dir: string; pkg: PackageJson }> {
  const root = readJson<{ workspaces: string[] }>("package.json");
  const found = new Map<string, { dir: string; pkg: PackageJson }>();
  for (const pattern of root.workspaces) {
    const dirs = pattern.endsWith("/*")
      ? spawnSync("ls", [path.join(repoRoot, pattern.slice(0, -2))], { encoding: "utf8" })
          .stdout.split("\n")
          .filter(Boolean)
          .map((name) => `${pattern.slice(0, -2)}/${name}`)
      : [pattern];
    for (const dir of dirs) {
      if (!exists(`${dir}/package.json`)) continue;
      const pkg = readJson<PackageJson>(`${dir}/package.json`);
      found.set(pkg.name, { dir, pkg });
    }
  }
  return found;
}

const allWorkspaces = workspaces();

/** Checks `npm run <script> [-w <workspace>]` (args after `npm`) against the repository. */
function npmRunProblem(args: string[], cwd: string): string | undefined {
  if (args[0] !== "run" && args[0] !== "run-script") return `not an npm run: npm ${args.join(" ")}`;
  const script = args[1];
  if (!script) return "npm run without a script";
  const flag = args.findIndex((arg) => arg === "-w" || arg === "--workspace");
  let pkg: PackageJson;
  if (flag !== -1) {
    const name = args[flag + 1] ?? "";
    const workspace = allWorkspaces.get(name);
    if (!workspace) return `no workspace ${name}`;
    pkg = workspace.pkg;
  } else {
    if (!exists(`${cwd}/package.json`)) return `no package.json in ${cwd}`;
    pkg = readJson<PackageJson>(`${cwd}/package.json`);
  }
  if (!pkg.scripts?.[script]) return `${pkg.name} has no script "${script}"`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Dockerfiles.

type Instruction = { stage: string; keyword: string; args: string };

/** The Dockerfile's instructions, with `$NAME` / `${NAME}` of the given build args substituted. */
function instructions(dockerfile: string, buildArgs: Record<string, string> = {}): Instruction[] {
  const lines = read(dockerfile)
    .split("\n")
    .filter((line) => !/^\s*#/.test(line));
  const joined = lines.join("\n").replace(/\\\n/g, " ");
  const result: Instruction[] = [];
  let stage = "";
  for (const line of joined.split("\n")) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const keyword = (match[1] as string).toUpperCase();
    const args = (match[2] as string)
      .trim()
      .replace(/\$\{([A-Z_]+)\}|\$([A-Z_]+)/g, (whole, braced?: string, bare?: string) => {
        const name = (braced ?? bare) as string;
        return keyword === "ARG" ? whole : (buildArgs[name] ?? whole);
      });
    if (keyword === "FROM") stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? args;
    result.push({ stage, keyword, args });
  }
  return result;
}

/** `COPY [--from=x] [--chown=y] src... dest` → flags, sources, destination. */
function parseCopy(args: string) {
  const words = args.split(/\s+/);
  const flags = Object.fromEntries(
    words
      .filter((word) => word.startsWith("--"))
      .map((word) => word.slice(2).split("=") as [string, string | undefined]),
  );
  const paths = words.filter((word) => !word.startsWith("--"));
  return { flags, sources: paths.slice(0, -1), dest: paths.at(-1) as string };
}

/** The exec form of CMD/HEALTHCHECK CMD (`["node", "-e", "…"]`). */
const execForm = (args: string) => JSON.parse(args.replace(/^CMD\s+/, "")) as string[];

/** A tiny .dockerignore matcher: enough for the patterns the repository uses. */
function dockerignored(file: string): boolean {
  const patterns = read(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const toRegex = (pattern: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*\*\//g, "GLOBSTAR")
        .replace(/\*/g, "[^/]*")
        .replace(/GLOBSTAR/g, "(?:.*/)?")}(?:/.*)?$`,
    );
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    if (toRegex(negated ? pattern.slice(1) : pattern).test(file)) ignored = !negated;
  }
  return ignored;
}

const lockfileVersion = (name: string) =>
  readJson<{ packages: Record<string, { version?: string }> }>("package-lock.json").packages[
    `node_modules/${name}`
  ]?.version;

describe.each(IMAGES)("the $app image ($dockerfile)", ({ app, dockerfile, args }) => {
  const steps = instructions(dockerfile, args);
  const stages = steps.filter((step) => step.keyword === "FROM").map((step) => step.stage);
  const final = stages.at(-1) as string;
  const inFinal = steps.filter((step) => step.stage === final);
  const appPkg = readJson<PackageJson>(`apps/${app}/package.json`);

  it("builds on a Node.js LTS image that the repository's engines range accepts", () => {
    const image = steps.find((step) => step.keyword === "ARG" && step.args.startsWith("NODE_IMAGE="))?.args;
    const major = Number(/^NODE_IMAGE=node:(\d+)-/.exec(image ?? "")?.[1]);
    const engines = readJson<{ engines: { node: string } }>("package.json").engines.node;
    const minimum = Number(/^>=\s*(\d+)/.exec(engines)?.[1]);
    expect(major % 2, `${image}: even majors are the LTS lines`).toBe(0);
    expect(major).toBeGreaterThanOrEqual(minimum);
    expect(steps.find((step) => step.keyword === "FROM")?.args).toMatch(/^\$\{NODE_IMAGE\} AS /);
  });

  it("prunes the workspace of this app with turbo (the version the repository uses)", () => {
    const prune = steps.find((step) => step.keyword === "RUN" && /\bturbo prune\b/.test(step.args));
    expect(prune?.args).toBeDefined();
    const target = /turbo prune (\S+) --docker/.exec(prune?.args ?? "")?.[1];
    expect(target).toBe(appPkg.name);
    expect(allWorkspaces.get(target as string)?.dir).toBe(`apps/${app}`);
    const turbo = steps.find((step) => step.keyword === "ARG" && step.args.startsWith("TURBO_VERSION="));
    expect(turbo?.args).toBe(`TURBO_VERSION=${lockfileVersion("turbo")}`);
  });

  it("copies from the build context only paths that exist and .dockerignore keeps", () => {
    const fromContext = steps
      .filter((step) => step.keyword === "COPY" || step.keyword === "ADD")
      .map((step) => parseCopy(step.args))
      .filter((copy) => copy.flags.from === undefined);
    expect(fromContext.length).toBeGreaterThan(0);
    for (const source of fromContext.flatMap((copy) => copy.sources)) {
      const file = source.replace(/^\.\/?/, "") || ".";
      expect(exists(file), `${dockerfile}: COPY ${source}`).toBe(true);
      if (file !== ".") expect(dockerignored(file), `${dockerfile}: ${source} is dockerignored`).toBe(false);
    }
    // What turbo prune and the install need must reach the pruner (COPY . .).
    for (const needed of ["package.json", "package-lock.json", "turbo.json", `apps/${app}/package.json`]) {
      expect(dockerignored(needed), `${needed} is dockerignored`).toBe(false);
    }
  });

  it("copies between stages only from stages and outputs that exist", () => {
    const fromStages = steps
      .filter((step) => step.keyword === "COPY")
      .map((step) => parseCopy(step.args))
      .filter((copy) => copy.flags.from !== undefined);
    for (const copy of fromStages) {
      expect(stages, `COPY --from=${copy.flags.from}`).toContain(copy.flags.from);
      for (const source of copy.sources) {
        expect(source.startsWith(`${IMAGE_ROOT}/`), source).toBe(true);
        const inRepo = source.slice(IMAGE_ROOT.length + 1).replace(/\/$/, "");
        if (inRepo === "" || inRepo.startsWith("out/")) {
          // turbo prune --docker: out/json (manifests + lockfile) and out/full (sources).
          expect(["", "out/json", "out/full"]).toContain(inRepo);
          continue;
        }
        if (inRepo === "packages/db/src/generated") {
          // Written by `npm run generate -w @gozon/db` (Prisma's output folder).
          expect(read("packages/db/prisma/orders/schema.prisma")).toMatch(
            /output\s*=\s*"[./]*src\/generated/,
          );
          continue;
        }
        if (inRepo === "apps/web/.next") {
          expect(appPkg.scripts?.build).toBe("next build");
          continue;
        }
        throw new Error(`${dockerfile}: no check for COPY --from=${copy.flags.from} ${source}`);
      }
    }
  });

  it("gives every stage that runs the app's code the root files its tsconfigs extend", () => {
    // `turbo prune` copies the workspaces, not the root tsconfig they extend; Prisma's CLI (generate) and
    // tsx (the CMD) read that chain and stop when a file of it is missing. Prune for real and look.
    const out = mkdtempSync(path.join(tmpdir(), "gozon-prune-"));
    try {
      const turbo = path.join(repoRoot, "node_modules/.bin/turbo");
      const prune = spawnSync(turbo, ["prune", appPkg.name, "--docker", `--out-dir=${out}`], {
        cwd: repoRoot,
        encoding: "utf8",
        env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" },
      });
      expect(prune.status, prune.stderr).toBe(0);
      const full = path.join(out, "full");
      const missing = new Set<string>();
      for (const entry of readdirSync(full, { recursive: true, encoding: "utf8" })) {
        if (!/(^|\/)tsconfig[^/]*\.json$/.test(entry) || entry.includes("node_modules")) continue;
        const config = JSON.parse(readFileSync(path.join(full, entry), "utf8")) as { extends?: string };
        if (!config.extends?.startsWith(".")) continue;
        const target = path.relative(full, path.resolve(full, path.dirname(entry), config.extends));
        if (!existsSync(path.join(full, target))) missing.add(target);
      }
      expect(missing.size, "the workspaces extend a root tsconfig").toBeGreaterThan(0);
      const runsCode = (stage: string) =>
        stage === final ||
        steps.some((s) => s.stage === stage && s.keyword === "RUN" && /\bnpm run\b/.test(s.args));
      for (const stage of stages.filter(runsCode)) {
        const copied = steps
          .filter((s) => s.stage === stage && s.keyword === "COPY")
          .map((s) => parseCopy(s.args))
          .filter((copy) => copy.flags.from === undefined)
          .flatMap((copy) => copy.sources.map((source) => source.replace(/^\.\//, "")));
        for (const file of missing)
          expect(copied, `${dockerfile}, stage ${stage}: COPY ${file}`).toContain(file);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("runs only npm scripts the repository defines", () => {
    for (const step of steps.filter((s) => s.keyword === "RUN" && /\bnpm run\b/.test(s.args))) {
      for (const command of step.args.split("&&").map((part) => part.trim())) {
        if (!command.startsWith("npm run")) continue;
        expect(npmRunProblem(command.split(/\s+/).slice(1), "."), command).toBeUndefined();
      }
    }
  });

  it("starts the app as a non-root user, with tsx from its production dependencies", () => {
    const user = inFinal.filter((step) => step.keyword === "USER").at(-1)?.args;
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user?.split(":")[0]);
    const workdir = inFinal.filter((step) => step.keyword === "WORKDIR").at(-1)?.args as string;
    expect(workdir).toBe(`${IMAGE_ROOT}/apps/${app}`);
    const cmd = execForm(inFinal.find((step) => step.keyword === "CMD")?.args ?? "[]");
    expect(cmd.slice(0, 3)).toEqual(["node", "--import", "tsx"]);
    expect(exists(`apps/${app}/${cmd[3]}`), `entry ${cmd[3]}`).toBe(true);
    expect(appPkg.dependencies?.tsx, "tsx is a production dependency").toBeDefined();
    // The same entry point as the app's own start script (what `npm start` runs).
    expect(appPkg.scripts?.start).toBe(cmd.join(" "));
  });

  it("has a healthcheck that probes the app", () => {
    const healthcheck = inFinal.find((step) => step.keyword === "HEALTHCHECK")?.args ?? "";
    expect(healthcheck).toMatch(/CMD \[/);
    const probe = execForm(healthcheck.slice(healthcheck.indexOf("CMD ")));
    expect(probe.slice(0, 2)).toEqual(["node", "-e"]);
    expect(probe[2]).toContain(app === "web" ? "/api/health" : "/api/metrics");
  });
});

// ---------------------------------------------------------------------------------------------------
// docker-compose.yml.

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[] | string;
  working_dir?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: string[];
  restart?: string;
};
const compose = parse(read("docker-compose.yml"), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;

/** The secrets compose requires (`${VAR:?message}`): no default anywhere in the file. */
const REQUIRED_SECRETS = {
  JWT_SECRET: "compose-test-jwt-secret-0123456789abcdef",
  MESSAGE_SIGNING_KEY: "compose-test-message-signing-key-0123456789",
  ADMIN_PASSWORD: "compose-test-admin-password",
  POSTGRES_PASSWORD: "compose-test-postgres",
  REDIS_PASSWORD: "compose-test-redis",
  ORDERS_DB_PASSWORD: "compose-test-orders",
  PAYMENTS_DB_PASSWORD: "compose-test-payments",
  IDENTITY_DB_PASSWORD: "compose-test-identity",
} as const;

/**
 * What `docker compose up` puts in a value with the required secrets set as above:
 * `${VAR:?message}` → the secret, `${VAR:-default}` → the default.
 */
const withDefaults = (value: string) =>
  value
    .replace(/\$\{([A-Z_]+):\?[^}]*\}/g, (whole, name: string) =>
      name in REQUIRED_SECRETS ? REQUIRED_SECRETS[name as keyof typeof REQUIRED_SECRETS] : whole,
    )
    .replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");

const dockerCompose = spawnSync("docker-compose", ["version"], { encoding: "utf8" });
const hasDockerCompose = dockerCompose.status === 0;

/** `docker-compose config -q` with exactly `env` besides PATH (nothing inherited from the shell). */
const composeConfig = (env: Record<string, string>, files = ["docker-compose.yml"]) =>
  spawnSync("docker-compose", [...files.flatMap((file) => ["-f", file]), "config", "-q"], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
  });

describe("docker-compose.yml", () => {
  it.skipIf(!hasDockerCompose)(
    "validates with `docker-compose config -q` (skipped when docker-compose is not installed: apt-get install docker-compose)",
    () => {
      const result = composeConfig(REQUIRED_SECRETS);
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    },
  );

  it.skipIf(!hasDockerCompose)("refuses to start without any one of the required secrets, naming it", () => {
    const none = composeConfig({});
    expect(none.status).not.toBe(0);
    for (const name of Object.keys(REQUIRED_SECRETS)) {
      const { [name as keyof typeof REQUIRED_SECRETS]: _left, ...others } = REQUIRED_SECRETS;
      const result = composeConfig(others);
      expect(result.status, `without ${name}`).not.toBe(0);
      expect(result.stderr, `without ${name}`).toContain(`set ${name}`);
      // Empty counts as unset (`:?`): an empty password is no password.
      expect(composeConfig({ ...others, [name]: "" }).status, `${name} empty`).not.toBe(0);
    }
  });

  it("has no default for any secret, and no superuser or password-less URL for the apps", () => {
    const raw = read("docker-compose.yml");
    for (const name of Object.keys(REQUIRED_SECRETS)) {
      expect(raw, name).not.toMatch(new RegExp(`\\$\\{${name}:?-`));
      expect(raw, name).toMatch(new RegExp(`\\$\\{${name}:\\?`));
    }
  });

  it("runs Redis with a password (requirepass) that every client and the healthcheck use", () => {
    const { redis } = services;
    const command = (redis?.command as string[]).map(withDefaults).join(" ");
    expect(command).toContain(`--requirepass ${REQUIRED_SECRETS.REDIS_PASSWORD}`);
    expect(withDefaults(String(redis?.environment?.REDISCLI_AUTH))).toBe(REQUIRED_SECRETS.REDIS_PASSWORD);
    for (const name of ["migrate", "web-1", "web-2", "orders-worker", "payments-worker"]) {
      const url = withDefaults(String(services[name]?.environment?.REDIS_URL));
      expect(url, name).toBe(`redis://:${REQUIRED_SECRETS.REDIS_PASSWORD}@redis:6379`);
    }
  });

  it("gives each service database its own role, and each app only the databases it uses", () => {
    const postgres = services.postgres as Service;
    expect(postgres.volumes).toContain(
      "./docker/postgres/service-roles.sh:/docker-entrypoint-initdb.d/10-service-roles.sh:ro",
    );
    const databasesOf: Record<string, string[]> = {
      migrate: ["orders", "payments", "identity"],
      "web-1": ["orders", "payments", "identity"],
      "web-2": ["orders", "payments", "identity"],
      "orders-worker": ["orders"],
      "payments-worker": ["payments"],
    };
    for (const [name, databases] of Object.entries(databasesOf)) {
      const env = Object.fromEntries(
        Object.entries(services[name]?.environment ?? {}).map(([key, value]) => [
          key,
          withDefaults(String(value)),
        ]),
      );
      // Never the server-wide URL (the superuser): only per-service URLs, each with its own role.
      expect(env.DATABASE_URL, name).toBeUndefined();
      for (const service of ["orders", "payments", "identity"]) {
        const url = env[`${service.toUpperCase()}_DATABASE_URL`];
        if (!databases.includes(service)) {
          expect(url, `${name} must not reach ${service}`).toBeUndefined();
          continue;
        }
        const password =
          REQUIRED_SECRETS[`${service.toUpperCase()}_DB_PASSWORD` as keyof typeof REQUIRED_SECRETS];
        expect(url, `${name}: ${service}`).toBe(
          `postgres://gozon_${service}:${password}@postgres:5432/gozon_${service}`,
        );
      }
    }
    for (const service of ["ORDERS", "PAYMENTS", "IDENTITY"]) {
      expect(withDefaults(String(postgres.environment?.[`${service}_DB_PASSWORD`]))).toBe(
        REQUIRED_SECRETS[`${service}_DB_PASSWORD` as keyof typeof REQUIRED_SECRETS],
      );
    }
  });

  it.skipIf(!hasDockerCompose)("validates with the TLS override, which requires TLS_CERT_DIR", () => {
    const files = ["docker-compose.yml", "docker-compose.tls.yml"];
    expect(composeConfig(REQUIRED_SECRETS, files).status).not.toBe(0);
    const result = composeConfig({ ...REQUIRED_SECRETS, TLS_CERT_DIR: "/tmp" }, files);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("runs Postgres 16 and Redis 7 with volumes and healthchecks; Redis persists and never evicts", () => {
    const { postgres, redis } = services;
    expect(postgres?.image).toBe("postgres:16");
    expect(postgres?.healthcheck?.test.join(" ")).toMatch(/pg_isready/);
    expect(postgres?.volumes?.[0]).toMatch(/^postgres-data:\/var\/lib\/postgresql\/data$/);
    expect(redis?.image).toBe("redis:7");
    expect(redis?.healthcheck?.test.join(" ")).toMatch(/redis-cli.*ping/);
    expect(redis?.volumes?.[0]).toBe("redis-data:/data");
    const command = (redis?.command as string[]).join(" ");
    expect(command).toContain("--appendonly yes");
    expect(command).toContain("--appendfsync everysec");
    expect(command).toContain("--maxmemory-policy noeviction");
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(["postgres-data", "redis-data"]));
  });

  it("builds every app from its Dockerfile with the repository as context", () => {
    const built = Object.entries(services).filter(([, service]) => service.build);
    for (const [name, service] of built) {
      expect(service.build?.context, name).toBe(".");
      expect(exists(service.build?.dockerfile as string), `${name}: ${service.build?.dockerfile}`).toBe(true);
    }
    const images = new Set(
      built.map(([, { build }]) => JSON.stringify([build?.dockerfile, build?.args ?? {}])),
    );
    expect(images).toEqual(new Set(IMAGES.map(({ dockerfile, args }) => JSON.stringify([dockerfile, args]))));
  });

  it("runs only commands the repository defines", () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.command || !service.build) continue;
      const command = Array.isArray(service.command) ? service.command : service.command.split(/\s+/);
      expect(command[0], name).toBe("npm");
      const cwd = path.relative(IMAGE_ROOT, service.working_dir ?? IMAGE_ROOT) || ".";
      expect(npmRunProblem(command.slice(1), cwd), `${name}: ${command.join(" ")}`).toBeUndefined();
    }
    expect(services.migrate?.command).toEqual(["npm", "run", "migrate", "-w", "@gozon/db"]);
    expect(services.migrate?.restart).toBe("no");
  });

  it("starts the apps after the migration succeeded and Redis is healthy, the gateway after both webs", () => {
    expect(services.migrate?.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    for (const name of ["web-1", "web-2", "orders-worker", "payments-worker"]) {
      expect(services[name]?.depends_on, name).toEqual({
        migrate: { condition: "service_completed_successfully" },
        redis: { condition: "service_healthy" },
      });
    }
    expect(services.gateway?.depends_on).toEqual({
      "web-1": { condition: "service_healthy" },
      "web-2": { condition: "service_healthy" },
    });
    // A service waited on as healthy has a healthcheck (in the compose file or in its image).
    for (const service of Object.values(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        if (condition !== "service_healthy") continue;
        const target = services[dependency] as Service;
        const inImage = target.build && read(target.build.dockerfile).includes("HEALTHCHECK --interval");
        expect(target.healthcheck ?? inImage, `${dependency} has a healthcheck`).toBeTruthy();
      }
    }
  });

  it("gives every app a configuration the config schema accepts, admin overridable", () => {
    expect(read("docker-compose.yml")).toMatch(/\$\{ADMIN_EMAIL:-[^}]+\}/);
    for (const name of ["migrate", "web-1", "web-2", "orders-worker", "payments-worker"]) {
      const env = Object.fromEntries(
        Object.entries(services[name]?.environment ?? {}).map(([key, value]) => [
          key,
          withDefaults(String(value)),
        ]),
      );
      expect(env.NODE_ENV, name).toBe("production");
      expect(() => loadConfig(env), name).not.toThrow();
      expect(env.JWT_SECRET, name).toBe(REQUIRED_SECRETS.JWT_SECRET);
      expect(env.MESSAGE_SIGNING_KEY, name).toBe(REQUIRED_SECRETS.MESSAGE_SIGNING_KEY);
    }
    for (const name of ["web-1", "web-2"]) {
      const config = loadConfig(
        Object.fromEntries(
          Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, withDefaults(String(v))]),
        ),
      );
      expect(config.TRUST_PROXY, name).toBe(true);
      expect(config.ADMIN_EMAIL, name).toBeDefined();
      expect(config.PORT, name).toBe(3000);
    }
  });

  it("publishes the gateway on port 3000 with the repository's nginx config", () => {
    const gateway = services.gateway as Service;
    expect(gateway.image).toMatch(/^nginx:/);
    expect(gateway.ports?.map(withDefaults)).toEqual(["3000:80"]);
    const mount = gateway.volumes?.[0] ?? "";
    const [source, target] = mount.split(":");
    expect(target).toBe("/etc/nginx/conf.d/default.conf");
    expect(statSync(path.join(repoRoot, source as string)).isFile()).toBe(true);
  });
});

describe.skipIf(!hasDockerCompose)("docker-compose.scale.yml (docker-compose installed)", () => {
  const files = ["docker-compose.yml", "docker-compose.scale.yml"];
  // What compose will run: both files merged, the secrets substituted (`$$` stays escaped in the output).
  const merged = () => {
    const result = spawnSync("docker-compose", [...files.flatMap((file) => ["-f", file]), "config"], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...REQUIRED_SECRETS },
    });
    expect(result.status, result.stderr).toBe(0);
    return (parse(result.stdout) as { services: Record<string, Service> }).services;
  };
  const apps = ["web-1", "web-2", "orders-worker", "orders-worker-2", "payments-worker", "payments-worker-2"];
  const clusterNodes = ["redis", "redis-2", "redis-3"];

  it("validates with the main file, and needs the same secrets", () => {
    const result = composeConfig(REQUIRED_SECRETS, files);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    for (const name of Object.keys(REQUIRED_SECRETS)) {
      const { [name as keyof typeof REQUIRED_SECRETS]: _left, ...others } = REQUIRED_SECRETS;
      expect(composeConfig(others, files).status, `without ${name}`).not.toBe(0);
    }
    expect(read("docker-compose.scale.yml")).not.toMatch(
      /\$\{(?:[A-Z_]*PASSWORD|JWT_SECRET|MESSAGE_SIGNING_KEY):?-/,
    );
  });

  it("runs a 3-master Redis Cluster, persistent and never evicting, created before any app starts", () => {
    const services = merged();
    for (const name of clusterNodes) {
      const command = (services[name]?.command as string[]).join(" ");
      for (const flag of [
        "--cluster-enabled yes",
        "--appendonly yes",
        "--appendfsync everysec",
        "--maxmemory-policy noeviction",
        "--requirepass",
      ]) {
        expect(command, `${name}: ${flag}`).toContain(flag);
      }
      expect(services[name]?.image, name).toBe("redis:7");
      expect(services[name]?.healthcheck?.test.join(" "), name).toMatch(/redis-cli.*ping/);
      expect(services[name]?.environment?.REDISCLI_AUTH, name).toBe(REQUIRED_SECRETS.REDIS_PASSWORD);
      expect(services[name]?.volumes?.length, `${name} keeps its data and cluster layout`).toBe(1);
    }
    const create = services["redis-cluster"] as Service;
    const script = (create.command as string[]).join(" ");
    expect(script).toContain("redis-cli --cluster create");
    expect(script).toContain("--cluster-replicas 0");
    for (const name of clusterNodes) expect(script).toContain(`getent hosts ${name} `);
    expect(create.restart).toBe("no");
    expect(create.depends_on).toEqual(
      Object.fromEntries(clusterNodes.map((name) => [name, { condition: "service_healthy" }])),
    );
    for (const name of apps) {
      const env = services[name]?.environment ?? {};
      const nodes = env.REDIS_CLUSTER_NODES?.split(",").map((node) => node.split(":")[0]);
      expect(nodes, name).toEqual(clusterNodes);
      expect(env.REDIS_PASSWORD, name).toBe(REQUIRED_SECRETS.REDIS_PASSWORD);
      expect(services[name]?.depends_on?.["redis-cluster"], name).toEqual({
        condition: "service_completed_successfully",
      });
      expect(services[name]?.depends_on?.migrate, name).toEqual({
        condition: "service_completed_successfully",
      });
    }
  });

  it("runs two of each worker from the same images, named apart, each with only its own database", () => {
    const services = merged();
    const names = new Set<string>();
    for (const [name, kind, database] of [
      ["orders-worker", "orders-worker", "orders"],
      ["orders-worker-2", "orders-worker", "orders"],
      ["payments-worker", "payments-worker", "payments"],
      ["payments-worker-2", "payments-worker", "payments"],
    ] as const) {
      const service = services[name] as Service;
      expect(service.build?.dockerfile, name).toBe("docker/worker.Dockerfile");
      expect(service.build?.args?.WORKER, name).toBe(kind);
      expect(service.image, name).toBe(`gozon/${kind}:local`);
      expect(service.restart, name).toBe("unless-stopped");
      const env = service.environment ?? {};
      expect(env.WORKER_NAME, name).toMatch(new RegExp(`^${kind}-[12]$`));
      names.add(env.WORKER_NAME as string);
      const config = loadConfig(env);
      expect(config.NODE_ENV, name).toBe("production");
      for (const other of ["ORDERS", "PAYMENTS", "IDENTITY"]) {
        const url = env[`${other}_DATABASE_URL`];
        if (other.toLowerCase() === database)
          expect(url, name).toMatch(new RegExp(`^postgres://gozon_${database}:`));
        else expect(url, `${name} must not reach ${other}`).toBeUndefined();
      }
    }
    expect(names.size).toBe(4);
  });

  it("puts the payments database on its own Postgres server, orders and identity on the first", () => {
    const services = merged();
    const second = services["postgres-payments"] as Service;
    expect(second.image).toBe("postgres:16");
    // `config` prints bind mounts with absolute paths and volumes with their mode.
    expect(second.volumes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /\/docker\/postgres\/service-roles\.sh:\/docker-entrypoint-initdb\.d\/10-service-roles\.sh:ro$/,
        ),
        expect.stringMatching(/^postgres-payments-data:\/var\/lib\/postgresql\/data/),
      ]),
    );
    expect(second.healthcheck?.test.join(" ")).toMatch(/pg_isready/);
    const host = (url: string | undefined) => (url ? new URL(url).hostname : undefined);
    for (const name of ["migrate", ...apps]) {
      const env = services[name]?.environment ?? {};
      if (env.PAYMENTS_DATABASE_URL) expect(host(env.PAYMENTS_DATABASE_URL), name).toBe("postgres-payments");
      if (env.ORDERS_DATABASE_URL) expect(host(env.ORDERS_DATABASE_URL), name).toBe("postgres");
      if (env.IDENTITY_DATABASE_URL) expect(host(env.IDENTITY_DATABASE_URL), name).toBe("postgres");
      expect(() => loadConfig(env), name).not.toThrow();
    }
    // The migration reaches both servers before it runs.
    expect(services.migrate?.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      "postgres-payments": { condition: "service_healthy" },
    });
    expect(host(services.migrate?.environment?.PAYMENTS_DATABASE_URL)).toBe("postgres-payments");
  });
});

describe.skipIf(!hasDockerCompose)("docker-compose.tls.yml (docker-compose installed)", () => {
  const files = ["docker-compose.yml", "docker-compose.tls.yml"];
  const gatewayWith = (env: Record<string, string>) => {
    const result = spawnSync("docker-compose", [...files.flatMap((file) => ["-f", file]), "config"], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...REQUIRED_SECRETS, ...env },
    });
    expect(result.status, result.stderr).toBe(0);
    // `config` prints ports in the long syntax.
    type Port = { published: number | string; target: number | string };
    type Gateway = Omit<Service, "ports"> & { ports: Port[] };
    return (parse(result.stdout) as { services: { gateway: Gateway } }).services.gateway;
  };

  it("has the nginx image render tls.conf.template where nginx.conf includes it, for the published TLS_PORT", () => {
    const include = /include (\S+);/.exec(read("docker/gateway/nginx.conf"))?.[1] as string;
    expect(include).toBe("/etc/nginx/tls.d/*.conf");
    for (const port of [undefined, "8443"]) {
      const gateway = gatewayWith({ TLS_CERT_DIR: "/tmp", ...(port ? { TLS_PORT: port } : {}) });
      const env = gateway.environment ?? {};
      expect(env.TLS_PORT, `TLS_PORT=${port}`).toBe(port ?? "443");
      expect(gateway.ports.map((p) => `${p.published}:${p.target}`)).toContain(`${port ?? "443"}:443`);
      // The image renders /etc/nginx/templates/<path>.template to $NGINX_ENVSUBST_OUTPUT_DIR/<path>.
      const mount = (gateway.volumes ?? []).find((volume) => volume.includes("/etc/nginx/templates/")) ?? "";
      const [source, target] = mount.split(":") as [string, string];
      expect(path.relative(repoRoot, source)).toBe("docker/gateway/tls.conf.template");
      const rendered = path.posix.join(
        env.NGINX_ENVSUBST_OUTPUT_DIR ?? "/etc/nginx/conf.d",
        path.posix.relative("/etc/nginx/templates", target).replace(/\.template$/, ""),
      );
      expect(path.posix.dirname(rendered)).toBe(path.posix.dirname(include));
      expect(rendered).toMatch(/\.conf$/);
      // Every variable the template uses is set in the container (an unset one would stay as it is).
      const template = read("docker/gateway/tls.conf.template");
      for (const [, name] of template.matchAll(/\$\{(\w+)\}/g))
        expect(env, name).toHaveProperty(name as string);
    }
  });

  it("keeps the gateway's healthcheck on plain HTTP out of the redirect to HTTPS", () => {
    const template = read("docker/gateway/tls.conf.template");
    const exempt = /if \(\$request_uri ~ "([^"]+)"\)/.exec(template)?.[1] as string;
    expect(exempt).toBeDefined();
    const probe = gatewayWith({ TLS_CERT_DIR: "/tmp" }).healthcheck?.test.find((arg) =>
      arg.startsWith("http:"),
    );
    const url = new URL(probe as string);
    expect(url.port, "the healthcheck uses plain HTTP on port 80").toBe("");
    expect(url.pathname + url.search).toMatch(new RegExp(exempt));
  });
});

// ---------------------------------------------------------------------------------------------------
// The gateway.

describe("docker/gateway/nginx.conf", () => {
  const conf = read("docker/gateway/nginx.conf");
  const wsPath = /WS_PATH = "([^"]+)"/.exec(read("apps/web/src/server/websocket.ts"))?.[1] as string;

  const locations = [...conf.matchAll(/location\s+(=\s+)?(\S+)\s*\{([^}]*)\}/g)].map((match) => ({
    path: match[2] as string,
    body: match[3] as string,
  }));

  it("balances over both web instances at the port they listen on", () => {
    const upstream = /upstream\s+(\S+)\s*\{([^}]*)\}/.exec(conf);
    expect(upstream?.[2]).toMatch(/server web-1:3000\b/);
    expect(upstream?.[2]).toMatch(/server web-2:3000\b/);
    for (const location of locations.filter((l) => l.body.includes("proxy_pass"))) {
      expect(location.body).toContain(`proxy_pass http://${upstream?.[1]};`);
    }
  });

  it("proxies the WebSocket path with the upgrade headers and a long read timeout", () => {
    expect(wsPath).toBe("/api/trpc-ws");
    const ws = locations.find((location) => location.path === wsPath);
    expect(ws, `location ${wsPath}`).toBeDefined();
    const body = ws?.body ?? "";
    expect(body).toMatch(/proxy_http_version 1\.1;/);
    expect(body).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(body).toMatch(/proxy_set_header Connection "?upgrade"?;/);
    const timeout = /proxy_read_timeout (\d+)([smh]);/.exec(body);
    const seconds = Number(timeout?.[1]) * { s: 1, m: 60, h: 3600 }[(timeout?.[2] ?? "s") as "s"];
    expect(seconds).toBeGreaterThanOrEqual(600);
  });

  it("tells the apps who the client is (TRUST_PROXY) in every proxied location", () => {
    for (const location of locations.filter((l) => l.body.includes("proxy_pass"))) {
      expect(location.body, location.path).toMatch(
        /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/,
      );
      expect(location.body, location.path).toMatch(/proxy_set_header X-Forwarded-Proto \$scheme;/);
      // Keeps the port: the OpenAPI document's server URL and cookies follow the Host header.
      expect(location.body, location.path).toMatch(/proxy_set_header Host \$http_host;/);
    }
  });
});

describe(".dockerignore", () => {
  it("keeps host builds, installs and local data out of the build context", () => {
    for (const file of [
      "node_modules/x",
      "apps/web/node_modules/x",
      "apps/web/.next/BUILD_ID",
      ".turbo/x",
      "packages/db/.turbo/x",
      ".data/pg/PG_VERSION",
      "packages/db/src/generated/orders/client.ts",
      ".git/HEAD",
    ]) {
      expect(dockerignored(file), file).toBe(true);
    }
    for (const file of [
      "apps/web/server.ts",
      "packages/db/prisma/orders/schema.prisma",
      "tsconfig.base.json",
    ]) {
      expect(dockerignored(file), file).toBe(false);
    }
  });
});
