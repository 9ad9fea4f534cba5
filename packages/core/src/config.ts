import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** The repository root: `.data/` and other local state live under it. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

const DEV_JWT_SECRET = "gozon-development-secret-change-me-in-production";
const DEV_MESSAGE_SIGNING_KEY = "gozon-development-message-key-change-me-in-production";

/** The admin `npm start` creates in development (printed at start, so known to everyone). */
export const DEV_ADMIN = { email: "admin@gozon.local", password: "gozon-admin" } as const;

/**
 * Secrets and passwords that ship in this repository (the development defaults here, in the launcher
 * and in docker-compose.yml): anyone who read the code knows them, so outside development they are
 * refused. Compared after trimming and lower-casing.
 */
export const KNOWN_DEVELOPMENT_SECRETS: ReadonlySet<string> = new Set([
  DEV_JWT_SECRET,
  DEV_MESSAGE_SIGNING_KEY,
  "gozon-compose-development-secret-change-me",
  DEV_ADMIN.password,
  "gozon",
  "postgres",
  "password",
  "changeme",
  "change-me",
  "secret",
]);

const isKnownSecret = (value: string) => KNOWN_DEVELOPMENT_SECRETS.has(value.trim().toLowerCase());

/** The JWT key is HMAC-SHA256's: shorter than its 32-byte output it is weaker than the hash. */
const JWT_SECRET_MIN_BYTES = 32;
/** The message signing key is HMAC-SHA256's too (see @gozon/messaging/signing). */
const MESSAGE_SIGNING_KEY_MIN_BYTES = 32;
/** A rotation needs one key besides the signing one; a few leave room for a rotation rolled back. */
const MESSAGE_SIGNING_KEYS_ACCEPTED_MAX = 3;

/** The password of each database and Redis URL (the variable names it, for the message). */
const URL_VARIABLES = [
  "DATABASE_URL",
  "ORDERS_DATABASE_URL",
  "PAYMENTS_DATABASE_URL",
  "IDENTITY_DATABASE_URL",
  "REDIS_URL",
] as const;

function passwordOf(url: string | undefined): string | undefined {
  if (!url || !URL.canParse(url)) return undefined;
  const password = new URL(url).password;
  return password ? decodeURIComponent(password) : undefined;
}

const postgresUrl = z
  .string()
  .trim()
  .refine((value) => /^postgres(ql)?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
    message: "must be a postgres:// or postgresql:// URL",
  });

const redisUrl = z
  .string()
  .trim()
  .refine((value) => /^rediss?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
    message: "must be a redis:// or rediss:// URL",
  });

/**
 * A PEM file of CA certificates, read when the config loads: a wrong path stops the process at start, not
 * at its first Redis connection. Only the certificates are kept (a key pasted in by mistake is not carried
 * along); each must parse, or a damaged copy would surface later as a server that cannot be verified.
 */
const caCertificatesFile = z
  .string()
  .trim()
  .transform((file, ctx) => {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      ctx.addIssue({ code: "custom", message: `must be the path of a readable PEM file (${code})` });
      return z.NEVER;
    }
    const certificates = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    if (certificates.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: "must be a PEM file of CA certificates (-----BEGIN CERTIFICATE-----); this one holds none",
      });
      return z.NEVER;
    }
    for (const [index, certificate] of certificates.entries()) {
      try {
        new X509Certificate(certificate);
      } catch {
        ctx.addIssue({
          code: "custom",
          message: `holds a certificate that does not parse (number ${index + 1})`,
        });
        return z.NEVER;
      }
    }
    return certificates.join("\n");
  });

const integer = (min: number, max: number) =>
  z.coerce
    .number({ message: "must be a number" })
    .int({ message: "must be an integer" })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

const emptyAsUndefined = (value: unknown) => (value === "" ? undefined : value);

/** Connections per database pool; read where each pool is made too (see `loadDbPoolMax`). */
const dbPoolMax = z.object({
  DB_POOL_MAX: z.preprocess(emptyAsUndefined, integer(1, 10_000).optional()),
});

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { message: `must be one of ${values.join(", ")}` });

export const configSchema = z
  .object({
    NODE_ENV: oneOf(["development", "production", "test"]).default("development"),
    LOG_LEVEL: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** `json`: JSON log lines on a terminal too (elsewhere they always are). */
    LOG_FORMAT: z.preprocess(emptyAsUndefined, oneOf(["json"]).optional()),
    PORT: integer(1, 65535).default(3000),
    /** A Postgres server; the three service databases are derived from it. `embedded` forces the embedded one. */
    DATABASE_URL: z.preprocess(emptyAsUndefined, z.union([z.literal("embedded"), postgresUrl]).optional()),
    ORDERS_DATABASE_URL: z.preprocess(emptyAsUndefined, postgresUrl.optional()),
    PAYMENTS_DATABASE_URL: z.preprocess(emptyAsUndefined, postgresUrl.optional()),
    IDENTITY_DATABASE_URL: z.preprocess(emptyAsUndefined, postgresUrl.optional()),
    REDIS_URL: z.preprocess(
      emptyAsUndefined,
      z.union([z.literal("embedded"), redisUrl]).default("redis://127.0.0.1:6379"),
    ),
    /**
     * Redis Cluster seed nodes, `host:port` or `redis://[:password@]host:port`, comma-separated. Set, it
     * wins over REDIS_URL and every Redis user runs in cluster mode.
     */
    REDIS_CLUSTER_NODES: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .optional()
        .transform((value, ctx) => {
          if (value === undefined) return undefined;
          const nodes: RedisNode[] = [];
          const items = value.split(",").map((part) => part.trim());
          for (const [index, item] of items.entries()) {
            if (!item) continue;
            const node = parseRedisNode(item);
            if (!node) {
              // The item is not echoed: a node URL may carry a password.
              ctx.addIssue({
                code: "custom",
                message: `must list nodes like 10.0.0.1:7000 or redis://:secret@10.0.0.1:7000 (item ${index + 1} is not one)`,
              });
              return z.NEVER;
            }
            nodes.push(node);
          }
          if (nodes.length === 0) {
            ctx.addIssue({ code: "custom", message: "must list at least one host:port" });
            return z.NEVER;
          }
          return nodes;
        }),
    ),
    /** Password of Redis (single node or every cluster node) when the URLs do not carry one. */
    REDIS_PASSWORD: z.preprocess(emptyAsUndefined, z.string().optional()),
    /**
     * The CA certificate(s) that Redis's TLS certificate chains to (rediss:// REDIS_URL or cluster nodes),
     * e.g. a managed service's CA file: a path, read at start; the config holds the certificates' PEM.
     * Only they are trusted for Redis then, not Node's built-in list.
     */
    REDIS_TLS_CA: z.preprocess(emptyAsUndefined, caCertificatesFile.optional()),
    /** Prefix of every Redis key and channel, so several systems (or test runs) can share one Redis. */
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "must be 1-64 letters, digits, '_' or '-'" })
      .default("gozon"),
    JWT_SECRET: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .refine((value) => Buffer.byteLength(value, "utf8") >= JWT_SECRET_MIN_BYTES, {
          message: `must be at least ${JWT_SECRET_MIN_BYTES} bytes (32 random bytes, e.g. \`openssl rand -hex 32\`)`,
        })
        .optional(),
    ),
    /**
     * The key every service signs its queue messages and live-feed events with, and checks them against
     * (HMAC-SHA256): only the services hold it, so whoever can write to Redis cannot forge a message.
     * Every web instance and worker of one system must have the same key.
     */
    MESSAGE_SIGNING_KEY: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .refine((value) => Buffer.byteLength(value, "utf8") >= MESSAGE_SIGNING_KEY_MIN_BYTES, {
          message: `must be at least ${MESSAGE_SIGNING_KEY_MIN_BYTES} bytes (32 random bytes, e.g. \`openssl rand -hex 32\`)`,
        })
        // As it will be written in MESSAGE_SIGNING_KEYS_ACCEPTED during a rotation, which splits on commas
        // and trims: a key that list could not carry as it is would be refused there, or read as another.
        .refine((value) => !value.includes(",") && value.trim() === value, {
          message: "must not contain a comma, nor begin or end with a space",
        })
        .optional(),
    ),
    /**
     * Keys (comma-separated) whose signatures are accepted besides MESSAGE_SIGNING_KEY's, which alone
     * signs: they let the key change without a pause (README, "Rotating the keys"). Usually empty.
     */
    MESSAGE_SIGNING_KEYS_ACCEPTED: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .optional()
        .transform((value, ctx) => {
          const keys = (value ?? "")
            .split(",")
            .map((part) => part.trim())
            .filter((part) => part !== "");
          if (keys.length > MESSAGE_SIGNING_KEYS_ACCEPTED_MAX) {
            ctx.addIssue({
              code: "custom",
              message: `must list at most ${MESSAGE_SIGNING_KEYS_ACCEPTED_MAX} keys`,
            });
            return z.NEVER;
          }
          if (keys.some((key) => Buffer.byteLength(key, "utf8") < MESSAGE_SIGNING_KEY_MIN_BYTES)) {
            ctx.addIssue({
              code: "custom",
              message: `must list keys of at least ${MESSAGE_SIGNING_KEY_MIN_BYTES} bytes each, separated by commas`,
            });
            return z.NEVER;
          }
          return keys;
        }),
    ),
    ADMIN_EMAIL: z.preprocess(emptyAsUndefined, z.email({ message: "must be an email address" }).optional()),
    ADMIN_PASSWORD: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .min(8, { message: "must be at least 8 characters" })
        .max(128, { message: "must be at most 128 characters" })
        .optional(),
    ),
    /** Trust `X-Forwarded-For` / `X-Forwarded-Proto`: set it only behind a proxy that overwrites them. */
    TRUST_PROXY: z
      .enum(["true", "false", "1", "0"], { message: "must be true or false" })
      .default("false")
      .transform((value) => value === "true" || value === "1"),
    /**
     * With it set, /api/metrics (web and workers) answers only `Authorization: Bearer <METRICS_TOKEN>`.
     * Unset, metrics stay open (development; keep the port private).
     */
    METRICS_TOKEN: z.preprocess(
      emptyAsUndefined,
      z.string().min(16, { message: "must be at least 16 characters" }).optional(),
    ),
    /**
     * Origins (scheme://host[:port], comma-separated) whose pages may use the API from a browser: the
     * WebSocket upgrade and cookie-authenticated mutations check `Origin` against them. Unset: the origin
     * the request was addressed to (its Host; X-Forwarded-Host/-Proto only with TRUST_PROXY).
     */
    ALLOWED_ORIGINS: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .optional()
        .transform((value, ctx) => {
          const origins: string[] = [];
          const items = (value ?? "").split(",").map((part) => part.trim());
          for (const [index, item] of items.entries()) {
            if (!item) continue;
            const url = URL.canParse(item) ? new URL(item) : null;
            const bare = url && url.pathname === "/" && !url.search && !url.hash && !url.username;
            if (!url || !bare || !/^https?:$/.test(url.protocol)) {
              ctx.addIssue({
                code: "custom",
                message: `must list origins like https://shop.example; item ${index + 1} is not one`,
              });
              return z.NEVER;
            }
            origins.push(url.origin);
          }
          return origins;
        }),
    ),
    /** Registrations allowed per client IP per hour (login failures have their own fixed limits). */
    REGISTRATIONS_PER_IP_PER_HOUR: integer(1, 1_000_000).default(50),
    /** Port of a worker's /api/metrics (0 disables); unset, each worker uses its own default. */
    METRICS_PORT: integer(0, 65535).optional(),
    /**
     * Connections per database pool in each process. Read where each pool is made (@gozon/db's
     * pool-size.ts); here so that a bad value stops the process at start, before anything runs.
     */
    ...dbPoolMax.shape,
    /** Ports of the Postgres and Redis `npm start` starts when it finds none (read in infra/). */
    EMBEDDED_POSTGRES_PORT: z.preprocess(emptyAsUndefined, integer(1, 65535).optional()),
    EMBEDDED_REDIS_PORT: z.preprocess(emptyAsUndefined, integer(1, 65535).optional()),
    /** How many orders workers `npm start` runs and supervises. */
    ORDERS_WORKERS: integer(1, 64).default(1),
    /** How many payments workers `npm start` runs and supervises. */
    PAYMENTS_WORKERS: integer(1, 64).default(1),
    /** A worker instance's name in its logs and metrics (`orders-worker-2`); the launcher sets it. */
    WORKER_NAME: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "must be 1-64 letters, digits, '_' or '-'" })
        .optional(),
    ),
    DATA_DIR: z.string().min(1).default(path.join(repoRoot, ".data")),
    /** An order still NEW after this long gets its payment requested again. */
    RECONCILE_AFTER_MS: integer(1000, 86_400_000).default(30_000),
    /** Fallback poll of the outboxes; new rows wake the relays at once through LISTEN/NOTIFY. */
    OUTBOX_POLL_MS: integer(50, 60_000).default(1000),
    /** Sent outbox rows and processed inbox rows older than this are purged. */
    RETENTION_DAYS: integer(1, 3650).default(7),
    /**
     * Order changes older than this are purged. They are the orders' status history (a business record,
     * like the ledger) as well as the live feed's replay source, hence far longer than RETENTION_DAYS;
     * a feed resuming from before the oldest kept change is told to reset.
     */
    ORDER_LOG_RETENTION_DAYS: integer(1, 36_500).default(365),
    /** Each web instance reads the order change log this often for changes its pub/sub missed. */
    FEED_POLL_MS: integer(50, 60_000).default(2000),
  })
  .transform((env, ctx) => {
    if (env.JWT_SECRET === undefined && env.NODE_ENV === "production") {
      ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "is required in production" });
      return z.NEVER;
    }
    if (env.MESSAGE_SIGNING_KEY === undefined && env.NODE_ENV === "production") {
      ctx.addIssue({ code: "custom", path: ["MESSAGE_SIGNING_KEY"], message: "is required in production" });
      return z.NEVER;
    }
    // One key for both would let a token be checked as a message's MAC or the other way round, and one
    // leak would give away both.
    if (env.MESSAGE_SIGNING_KEY !== undefined && env.MESSAGE_SIGNING_KEY === env.JWT_SECRET) {
      ctx.addIssue({
        code: "custom",
        path: ["MESSAGE_SIGNING_KEY"],
        message: "must differ from JWT_SECRET (generate a key of its own)",
      });
      return z.NEVER;
    }
    if (env.JWT_SECRET !== undefined && env.MESSAGE_SIGNING_KEYS_ACCEPTED.includes(env.JWT_SECRET)) {
      ctx.addIssue({
        code: "custom",
        path: ["MESSAGE_SIGNING_KEYS_ACCEPTED"],
        message: "must not list JWT_SECRET (generate a key of its own)",
      });
      return z.NEVER;
    }
    // Development and tests may use the defaults; production must not run with a secret that is written
    // in this repository.
    if (env.NODE_ENV !== "development" && env.NODE_ENV !== "test") {
      const known: string[] = [];
      if (env.JWT_SECRET !== undefined && isKnownSecret(env.JWT_SECRET)) known.push("JWT_SECRET");
      if (env.MESSAGE_SIGNING_KEY !== undefined && isKnownSecret(env.MESSAGE_SIGNING_KEY)) {
        known.push("MESSAGE_SIGNING_KEY");
      }
      if (env.MESSAGE_SIGNING_KEYS_ACCEPTED.some(isKnownSecret)) known.push("MESSAGE_SIGNING_KEYS_ACCEPTED");
      if (env.ADMIN_PASSWORD !== undefined && isKnownSecret(env.ADMIN_PASSWORD)) known.push("ADMIN_PASSWORD");
      if (env.METRICS_TOKEN !== undefined && isKnownSecret(env.METRICS_TOKEN)) known.push("METRICS_TOKEN");
      for (const name of URL_VARIABLES) {
        const url = env[name];
        const password = url === "embedded" ? undefined : passwordOf(url);
        if (password !== undefined && isKnownSecret(password)) known.push(name);
      }
      for (const name of known) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `is a development default that ships with the code; set a secret of your own (NODE_ENV=${env.NODE_ENV})`,
        });
      }
      if (known.length > 0) return z.NEVER;
    }
    const redisIssue = redisSettingsIssue(env);
    if (redisIssue) {
      ctx.addIssue({ code: "custom", path: [redisIssue.variable], message: redisIssue.message });
      return z.NEVER;
    }
    if ((env.ADMIN_EMAIL === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
      const missing = env.ADMIN_EMAIL === undefined ? "ADMIN_EMAIL" : "ADMIN_PASSWORD";
      ctx.addIssue({ code: "custom", path: [missing], message: "must be set together with the other" });
      return z.NEVER;
    }
    return {
      ...env,
      JWT_SECRET: env.JWT_SECRET ?? DEV_JWT_SECRET,
      MESSAGE_SIGNING_KEY: env.MESSAGE_SIGNING_KEY ?? DEV_MESSAGE_SIGNING_KEY,
    };
  });

export type Config = z.output<typeof configSchema>;

/** One Redis Cluster seed node. */
export type RedisNode = { host: string; port: number; username?: string; password?: string; tls: boolean };

/** The Redis settings: which Redis (REDIS_URL, or the cluster nodes, which win) and how it is reached. */
const REDIS_FIELDS = {
  REDIS_URL: true,
  REDIS_CLUSTER_NODES: true,
  REDIS_PASSWORD: true,
  REDIS_TLS_CA: true,
} as const;

/** The names of the Redis settings, e.g. to tell what a child process would inherit about Redis. */
export const REDIS_VARIABLES = Object.keys(REDIS_FIELDS) as ReadonlyArray<keyof typeof REDIS_FIELDS>;

/** The Redis settings alone, each field and the whole checked as in the config (see `loadRedisTarget`). */
const redisTargetSchema = configSchema.in.pick(REDIS_FIELDS).transform((target, ctx) => {
  const issue = redisSettingsIssue(target);
  if (issue) {
    ctx.addIssue({ code: "custom", path: [issue.variable], message: issue.message });
    return z.NEVER;
  }
  return target;
});

/** The Redis settings as a `RedisTarget` (infra/redis-client.ts) takes them. */
export type RedisSettings = z.output<typeof redisTargetSchema>;

/** What is wrong with the Redis settings taken together, if anything (each field passed its own checks). */
function redisSettingsIssue(
  target: Pick<Config, "REDIS_URL" | "REDIS_CLUSTER_NODES" | "REDIS_TLS_CA">,
): { variable: string; message: string } | undefined {
  // A CA with nothing reached over TLS is a mistake (a redis:// URL where rediss:// was meant, say): it
  // must not turn TLS on by itself, and ignoring it would hide the mistake.
  if (target.REDIS_TLS_CA !== undefined && !reachesRedisOverTls(target)) {
    return {
      variable: "REDIS_TLS_CA",
      message: target.REDIS_CLUSTER_NODES
        ? "is set but REDIS_CLUSTER_NODES lists no rediss:// node; use rediss:// nodes or unset REDIS_TLS_CA"
        : "is set but REDIS_URL is not a rediss:// URL; use rediss:// or unset REDIS_TLS_CA",
    };
  }
  // ioredis lets a `tls=` profile in the URL win over the options, so the CA would be dropped unsaid.
  if (
    target.REDIS_TLS_CA !== undefined &&
    !target.REDIS_CLUSTER_NODES &&
    redisUrlHasTlsQuery(target.REDIS_URL)
  ) {
    return {
      variable: "REDIS_URL",
      message: "must not name a tls= profile when REDIS_TLS_CA is set (the profile would replace the CA)",
    };
  }
  return undefined;
}

/** Whether Redis is reached over TLS: any rediss:// cluster node (they win), else a rediss:// REDIS_URL. */
function reachesRedisOverTls(target: {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: RedisNode[] | undefined;
}): boolean {
  return target.REDIS_CLUSTER_NODES?.length
    ? target.REDIS_CLUSTER_NODES.some((node) => node.tls)
    : target.REDIS_URL.startsWith("rediss://");
}

function redisUrlHasTlsQuery(url: string): boolean {
  return URL.canParse(url) && new URL(url).searchParams.has("tls");
}

/** `host:port` or a redis:// / rediss:// URL with a port; undefined for anything else. */
export function parseRedisNode(item: string): RedisNode | undefined {
  const url = /^rediss?:\/\//.test(item) ? item : `redis://${item}`;
  if (!URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  const port = Number(parsed.port);
  if (!parsed.hostname || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  if (parsed.pathname !== "" && parsed.pathname !== "/") return undefined;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    tls: parsed.protocol === "rediss:",
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment; throws a ConfigError that names every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnvironment(configSchema, env);
}

/**
 * Only the Redis settings (REDIS_URL with its default, REDIS_CLUSTER_NODES, REDIS_PASSWORD, REDIS_TLS_CA),
 * parsed and checked exactly as `loadConfig` does them: for a program outside the system that reaches the
 * system's Redis (the bench, the system tests' runs), whose environment need not be a whole valid config.
 * Takes any record of variables (those a child process is to get, say). Throws a ConfigError that names
 * every bad variable.
 */
export function loadRedisTarget(env: Record<string, string | undefined> = process.env): RedisSettings {
  return parseEnvironment(redisTargetSchema, env);
}

/**
 * DB_POOL_MAX alone, checked as `loadConfig` checks it: for the code that makes a pool, which also runs
 * outside a configured process (tests, the bench). Throws a ConfigError naming it.
 */
export function loadDbPoolMax(env: Record<string, string | undefined> = process.env): number | undefined {
  return parseEnvironment(dbPoolMax, env).DB_POOL_MAX;
}

function parseEnvironment<T>(schema: z.ZodType<T>, env: Record<string, string | undefined>): T {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "environment");
    const raw = env[name];
    const shown = raw === undefined ? "" : ` (got ${JSON.stringify(secretLike(name) ? "***" : raw)})`;
    return `${name} ${issue.message}${shown}`;
  });
  throw new ConfigError(problems);
}

function secretLike(name: string) {
  return /SECRET|PASSWORD|SIGNING_KEY|CLUSTER_NODES/.test(name);
}

/** Loads the config, or prints what is wrong and exits: a process must not start half-configured. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

export type Service = "orders" | "payments" | "identity";
export const services: readonly Service[] = ["orders", "payments", "identity"];
export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** Each service's own database: an explicit override, else `gozon_<service>` on the DATABASE_URL server. */
export function serviceDatabaseUrls(
  config: Pick<Config, "DATABASE_URL" | `${Uppercase<Service>}_DATABASE_URL`>,
) {
  const server =
    config.DATABASE_URL === undefined || config.DATABASE_URL === "embedded"
      ? DEFAULT_DATABASE_URL
      : config.DATABASE_URL;
  const derive = (service: Service) => withDatabase(server, `gozon_${service}`);
  return {
    orders: config.ORDERS_DATABASE_URL ?? derive("orders"),
    payments: config.PAYMENTS_DATABASE_URL ?? derive("payments"),
    identity: config.IDENTITY_DATABASE_URL ?? derive("identity"),
  } satisfies Record<Service, string>;
}

export type ServiceDatabaseUrls = ReturnType<typeof serviceDatabaseUrls>;

export function withDatabase(url: string, database: string) {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseName(url: string) {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
}
