import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadRedisTarget, serviceDatabaseUrls } from "../src/config.ts";
import { makeLocalhostCertificate, type TestCertificate } from "../test-support/testing.ts";

function problemWith(env: NodeJS.ProcessEnv, load: (env: NodeJS.ProcessEnv) => unknown = loadConfig): string {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("names each bad variable", () => {
    expect(problemWith({ PORT: "eighty" })).toMatch(/PORT must be a number/);
    expect(problemWith({ PORT: "70000" })).toMatch(/PORT must be at most 65535/);
    expect(problemWith({ DATABASE_URL: "mysql://localhost/db" })).toMatch(/DATABASE_URL/);
    expect(problemWith({ ORDERS_DATABASE_URL: "not a url" })).toMatch(/ORDERS_DATABASE_URL/);
    expect(problemWith({ REDIS_URL: "http://localhost" })).toMatch(/REDIS_URL/);
    expect(problemWith({ JWT_SECRET: "short" })).toMatch(/JWT_SECRET must be at least 32 bytes/);
    expect(problemWith({ DB_POOL_MAX: "0" })).toMatch(/DB_POOL_MAX must be at least 1/);
    expect(problemWith({ DB_POOL_MAX: "abc" })).toMatch(/DB_POOL_MAX must be a number/);
    expect(problemWith({ EMBEDDED_POSTGRES_PORT: "abc" })).toMatch(/EMBEDDED_POSTGRES_PORT must be a number/);
    expect(problemWith({ EMBEDDED_REDIS_PORT: "70000" })).toMatch(
      /EMBEDDED_REDIS_PORT must be at most 65535/,
    );
    expect(problemWith({ NODE_ENV: "staging" })).toBe(
      'Invalid configuration:\n  - NODE_ENV must be one of development, production, test (got "staging")',
    );
    expect(problemWith({ LOG_LEVEL: "loud" })).toMatch(/LOG_LEVEL must be one of fatal, error, warn/);
    expect(problemWith({ LOG_FORMAT: "xml" })).toMatch(/LOG_FORMAT must be one of json \(got "xml"\)/);
    expect(problemWith({ ALLOWED_ORIGINS: "https://a.example,foo" })).toMatch(
      /^Invalid configuration:\n {2}- ALLOWED_ORIGINS must list origins like https:\/\/shop\.example; item 2 is not one \(got "https:\/\/a\.example,foo"\)$/,
    );
  });

  it("never shows a secret's value", () => {
    expect(problemWith({ JWT_SECRET: "short-secret" })).not.toContain("short-secret");
  });

  it("wants ADMIN_EMAIL and ADMIN_PASSWORD together", () => {
    expect(problemWith({ ADMIN_EMAIL: "admin@example.com" })).toMatch(/ADMIN_PASSWORD/);
    expect(problemWith({ ADMIN_PASSWORD: "long-enough" })).toMatch(/ADMIN_EMAIL/);
  });

  it("requires JWT_SECRET in production, and defaults it in development", () => {
    expect(problemWith({ NODE_ENV: "production" })).toMatch(/JWT_SECRET is required in production/);
    expect(loadConfig({}).JWT_SECRET.length).toBeGreaterThanOrEqual(32);
  });

  it("accepts `embedded` and fills in defaults", () => {
    const config = loadConfig({ DATABASE_URL: "embedded", REDIS_URL: "embedded" });
    expect(config).toMatchObject({ DATABASE_URL: "embedded", REDIS_URL: "embedded", PORT: 3000 });
    expect(loadConfig({}).REDIS_URL).toBe("redis://127.0.0.1:6379");
  });

  it("reads worker counts, default 1, and names a bad one", () => {
    expect(loadConfig({})).toMatchObject({ ORDERS_WORKERS: 1, PAYMENTS_WORKERS: 1 });
    expect(loadConfig({ ORDERS_WORKERS: "3", PAYMENTS_WORKERS: "2" })).toMatchObject({
      ORDERS_WORKERS: 3,
      PAYMENTS_WORKERS: 2,
    });
    expect(problemWith({ ORDERS_WORKERS: "0" })).toMatch(/ORDERS_WORKERS must be at least 1/);
    expect(problemWith({ PAYMENTS_WORKERS: "two" })).toMatch(/PAYMENTS_WORKERS must be a number/);
    expect(problemWith({ PAYMENTS_WORKERS: "1.5" })).toMatch(/PAYMENTS_WORKERS must be an integer/);
    expect(problemWith({ WORKER_NAME: "orders worker" })).toMatch(/WORKER_NAME/);
  });

  it("reads ALLOWED_ORIGINS as a list of normalised origins, and refuses anything but origins", () => {
    expect(loadConfig({}).ALLOWED_ORIGINS).toEqual([]);
    expect(
      loadConfig({ ALLOWED_ORIGINS: " https://Shop.Example , http://localhost:3000/,https://a.example:443" })
        .ALLOWED_ORIGINS,
    ).toEqual(["https://shop.example", "http://localhost:3000", "https://a.example"]);
    for (const bad of [
      "shop.example",
      "https://shop.example/path",
      "ftp://shop.example",
      "https://u:p@x.example",
      "*",
    ]) {
      expect(problemWith({ ALLOWED_ORIGINS: bad }), bad).toMatch(/ALLOWED_ORIGINS must list origins/);
    }
  });
});

describe("serviceDatabaseUrls", () => {
  it("derives one database per service from DATABASE_URL", () => {
    const config = loadConfig({ DATABASE_URL: "postgres://app:pw@db.example:5433/app?sslmode=require" });
    expect(serviceDatabaseUrls(config)).toEqual({
      orders: "postgres://app:pw@db.example:5433/gozon_orders?sslmode=require",
      payments: "postgres://app:pw@db.example:5433/gozon_payments?sslmode=require",
      identity: "postgres://app:pw@db.example:5433/gozon_identity?sslmode=require",
    });
  });

  it("uses the local server when DATABASE_URL is unset", () => {
    expect(serviceDatabaseUrls(loadConfig({})).orders).toBe(
      "postgres://postgres@127.0.0.1:5432/gozon_orders",
    );
  });

  it("lets each service override its own database", () => {
    const config = loadConfig({
      DATABASE_URL: "postgres://app@db:5432/app",
      PAYMENTS_DATABASE_URL: "postgres://pay@other:5432/payments",
    });
    expect(serviceDatabaseUrls(config)).toEqual({
      orders: "postgres://app@db:5432/gozon_orders",
      payments: "postgres://pay@other:5432/payments",
      identity: "postgres://app@db:5432/gozon_identity",
    });
  });
});

describe("secrets outside development", () => {
  const strong = "0123456789abcdef0123456789abcdef-strong";
  const strongKey = "fedcba9876543210fedcba9876543210-key";
  const production = { NODE_ENV: "production", JWT_SECRET: strong, MESSAGE_SIGNING_KEY: strongKey } as const;

  it("refuses every development default, naming the variable and never showing the value", () => {
    const devJwt = "gozon-development-secret-change-me-in-production";
    const message = problemWith({ ...production, JWT_SECRET: devJwt });
    expect(message).toMatch(/JWT_SECRET is a development default/);
    expect(message).not.toContain(devJwt);
    expect(problemWith({ ...production, JWT_SECRET: "gozon-compose-development-secret-change-me" })).toMatch(
      /JWT_SECRET is a development default/,
    );
    expect(
      problemWith({ ...production, ADMIN_EMAIL: "admin@example.com", ADMIN_PASSWORD: "gozon-admin" }),
    ).toMatch(/ADMIN_PASSWORD is a development default/);
    expect(
      problemWith({ ...production, DATABASE_URL: "postgres://gozon:gozon@postgres:5432/postgres" }),
    ).toMatch(/DATABASE_URL is a development default/);
    expect(problemWith({ ...production, REDIS_URL: "redis://:gozon@redis:6379" })).toMatch(
      /REDIS_URL is a development default/,
    );
  });

  it("requires MESSAGE_SIGNING_KEY in production: its own, 32 bytes or more, never the development one", () => {
    expect(problemWith({ NODE_ENV: "production", JWT_SECRET: strong })).toMatch(
      /MESSAGE_SIGNING_KEY is required in production/,
    );
    const devKey = "gozon-development-message-key-change-me-in-production";
    const message = problemWith({ ...production, MESSAGE_SIGNING_KEY: devKey });
    expect(message).toMatch(/MESSAGE_SIGNING_KEY is a development default/);
    expect(message).not.toContain(devKey);
    expect(problemWith({ ...production, MESSAGE_SIGNING_KEY: strong })).toMatch(
      /MESSAGE_SIGNING_KEY must differ from JWT_SECRET/,
    );
    const short = problemWith({ ...production, MESSAGE_SIGNING_KEY: "k".repeat(31) });
    expect(short).toMatch(/MESSAGE_SIGNING_KEY must be at least 32 bytes/);
    for (const unlistable of [`${strongKey},more`, ` ${strongKey}`, `${strongKey}\t`]) {
      expect(problemWith({ ...production, MESSAGE_SIGNING_KEY: unlistable })).toMatch(
        /MESSAGE_SIGNING_KEY must not contain a comma, nor begin or end with a space/,
      );
    }
    expect(short).not.toContain("k".repeat(31));
    expect(loadConfig(production).MESSAGE_SIGNING_KEY).toBe(strongKey);
    // Development and tests sign with the default (npm start makes one of its own, see the launcher).
    expect(loadConfig({}).MESSAGE_SIGNING_KEY).toBe(devKey);
    expect(loadConfig({ NODE_ENV: "test" }).MESSAGE_SIGNING_KEY).toBe(devKey);
  });

  it("takes MESSAGE_SIGNING_KEYS_ACCEPTED as a short list of strong keys of their own, empty by default", () => {
    const old = "00112233445566778899aabbccddeeff-old-key";
    const older = "ffeeddccbbaa99887766554433221100-older";
    expect(loadConfig(production).MESSAGE_SIGNING_KEYS_ACCEPTED).toEqual([]);
    expect(loadConfig({ ...production, MESSAGE_SIGNING_KEYS_ACCEPTED: ` ${old} , ${older},` })).toMatchObject(
      {
        MESSAGE_SIGNING_KEY: strongKey,
        MESSAGE_SIGNING_KEYS_ACCEPTED: [old, older],
      },
    );
    const short = problemWith({ ...production, MESSAGE_SIGNING_KEYS_ACCEPTED: `${old},${"k".repeat(31)}` });
    expect(short).toMatch(/MESSAGE_SIGNING_KEYS_ACCEPTED must list keys of at least 32 bytes each/);
    expect(short).not.toContain(old);
    expect(
      problemWith({
        ...production,
        MESSAGE_SIGNING_KEYS_ACCEPTED: [old, older, `${old}1`, `${old}2`].join(","),
      }),
    ).toMatch(/MESSAGE_SIGNING_KEYS_ACCEPTED must list at most 3 keys/);
    expect(problemWith({ ...production, MESSAGE_SIGNING_KEYS_ACCEPTED: `${old},${strong}` })).toMatch(
      /MESSAGE_SIGNING_KEYS_ACCEPTED must not list JWT_SECRET/,
    );
    const devKey = "gozon-development-message-key-change-me-in-production";
    const known = problemWith({ ...production, MESSAGE_SIGNING_KEYS_ACCEPTED: devKey });
    expect(known).toMatch(/MESSAGE_SIGNING_KEYS_ACCEPTED is a development default/);
    expect(known).not.toContain(devKey);
  });

  it("refuses a JWT key under 32 bytes", () => {
    expect(problemWith({ ...production, JWT_SECRET: "x".repeat(31) })).toMatch(
      /JWT_SECRET must be at least 32 bytes/,
    );
  });

  it("accepts secrets of one's own in production, and the defaults in development and tests", () => {
    expect(
      loadConfig({
        ...production,
        ADMIN_EMAIL: "admin@example.com",
        ADMIN_PASSWORD: "a-password-of-my-own",
        DATABASE_URL: "postgres://gozon:s3cret-of-mine@postgres:5432/postgres",
      }).JWT_SECRET,
    ).toBe(strong);
    for (const NODE_ENV of ["development", "test"]) {
      expect(loadConfig({ NODE_ENV, ADMIN_EMAIL: "a@b.io", ADMIN_PASSWORD: "gozon-admin" }).NODE_ENV).toBe(
        NODE_ENV,
      );
    }
  });

  it("parses METRICS_TOKEN and ALLOWED_ORIGINS", () => {
    expect(
      loadConfig({ ALLOWED_ORIGINS: "https://shop.example, http://localhost:3000/" }).ALLOWED_ORIGINS,
    ).toEqual(["https://shop.example", "http://localhost:3000"]);
    expect(problemWith({ ALLOWED_ORIGINS: "shop.example" })).toMatch(/ALLOWED_ORIGINS/);
    expect(problemWith({ METRICS_TOKEN: "short" })).toMatch(/METRICS_TOKEN must be at least 16/);
  });
});

describe("REDIS_TLS_CA", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-config-ca-"));
  const file = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  let certificate: TestCertificate;
  beforeAll(async () => {
    certificate = await makeLocalhostCertificate(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tlsUrl = "rediss://redis.example:6380";

  it("reads the file at start and keeps only its certificates", () => {
    const pem = fs.readFileSync(certificate.ca, "utf8").trim();
    expect(loadConfig({ REDIS_URL: tlsUrl, REDIS_TLS_CA: certificate.ca }).REDIS_TLS_CA).toBe(pem);
    // A key in the same file (a bundle pasted together) is not carried along.
    const bundle = file("bundle.pem", fs.readFileSync(certificate.key, "utf8") + pem + "\n");
    expect(loadConfig({ REDIS_URL: tlsUrl, REDIS_TLS_CA: bundle }).REDIS_TLS_CA).toBe(pem);
    expect(loadConfig({ REDIS_URL: tlsUrl, REDIS_TLS_CA: "" }).REDIS_TLS_CA).toBeUndefined();
  });

  it("names REDIS_TLS_CA when the file cannot be read or holds no certificate, never showing its text", () => {
    const missing = path.join(dir, "missing.pem");
    expect(problemWith({ REDIS_URL: tlsUrl, REDIS_TLS_CA: missing })).toMatch(
      /REDIS_TLS_CA must be the path of a readable PEM file \(ENOENT\)/,
    );
    expect(problemWith({ REDIS_URL: tlsUrl, REDIS_TLS_CA: dir })).toMatch(/REDIS_TLS_CA .*\(EISDIR\)/);
    const keyOnly = problemWith({ REDIS_URL: tlsUrl, REDIS_TLS_CA: certificate.key });
    expect(keyOnly).toMatch(/REDIS_TLS_CA must be a PEM file of CA certificates .*this one holds none/);
    expect(keyOnly).not.toContain(fs.readFileSync(certificate.key, "utf8").split("\n")[1]);
    const damaged = file(
      "damaged.pem",
      "-----BEGIN CERTIFICATE-----\nMIIBnotDER\n-----END CERTIFICATE-----\n",
    );
    expect(problemWith({ REDIS_URL: tlsUrl, REDIS_TLS_CA: damaged })).toMatch(
      /REDIS_TLS_CA holds a certificate that does not parse/,
    );
  });

  it("refuses a CA with nothing reached over TLS, naming both variables", () => {
    for (const REDIS_URL of [undefined, "redis://redis.example:6379", "embedded"]) {
      expect(problemWith({ REDIS_URL, REDIS_TLS_CA: certificate.ca })).toMatch(
        /REDIS_TLS_CA is set but REDIS_URL is not a rediss:\/\/ URL/,
      );
    }
    // Cluster nodes win over REDIS_URL: theirs is the scheme that counts.
    expect(
      problemWith({ REDIS_URL: tlsUrl, REDIS_CLUSTER_NODES: "10.0.0.1:7000", REDIS_TLS_CA: certificate.ca }),
    ).toMatch(/REDIS_TLS_CA is set but REDIS_CLUSTER_NODES lists no rediss:\/\/ node/);
    const cluster = { REDIS_CLUSTER_NODES: "rediss://10.0.0.1:7000", REDIS_TLS_CA: certificate.ca };
    expect(loadConfig(cluster).REDIS_TLS_CA).toContain("-----BEGIN CERTIFICATE-----");
  });

  it("refuses a tls= profile in REDIS_URL beside a CA (ioredis would let the profile replace it)", () => {
    expect(problemWith({ REDIS_URL: `${tlsUrl}?tls=RedisCloudFixed`, REDIS_TLS_CA: certificate.ca })).toMatch(
      /REDIS_URL must not name a tls= profile when REDIS_TLS_CA is set/,
    );
    expect(loadConfig({ REDIS_URL: `${tlsUrl}?tls=RedisCloudFixed` }).REDIS_TLS_CA).toBeUndefined();
  });

  it("loadRedisTarget checks the settings together as loadConfig does", () => {
    for (const env of [
      { REDIS_TLS_CA: certificate.ca },
      { REDIS_URL: `${tlsUrl}?tls=RedisCloudFixed`, REDIS_TLS_CA: certificate.ca },
    ]) {
      expect(problemWith(env, loadRedisTarget)).toBe(problemWith(env));
    }
    const pem = fs.readFileSync(certificate.ca, "utf8").trim();
    expect(loadRedisTarget({ REDIS_URL: tlsUrl, REDIS_TLS_CA: certificate.ca })).toEqual({
      REDIS_URL: tlsUrl,
      REDIS_TLS_CA: pem,
    });
  });
});

describe("loadRedisTarget", () => {
  it("reads the Redis settings as loadConfig does, and nothing else", () => {
    expect(loadRedisTarget({})).toEqual({ REDIS_URL: "redis://127.0.0.1:6379" });
    const env = {
      REDIS_URL: " redis://redis.example:6379 ",
      REDIS_PASSWORD: "s3cret",
      REDIS_PREFIX: "gozon",
      PORT: "3001",
    };
    expect(loadRedisTarget(env)).toEqual({
      REDIS_URL: "redis://redis.example:6379",
      REDIS_PASSWORD: "s3cret",
    });
    expect(loadRedisTarget({ REDIS_CLUSTER_NODES: "10.0.0.1:7000" }).REDIS_CLUSTER_NODES).toEqual(
      loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000" }).REDIS_CLUSTER_NODES,
    );
  });

  it("does not judge the rest of the environment (a script's is not a whole config)", () => {
    const env = { NODE_ENV: "production", PORT: "eighty", REDIS_PASSWORD: "s3cret" };
    expect(problemWith(env)).toMatch(/PORT must be a number/);
    expect(loadRedisTarget(env)).toEqual({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_PASSWORD: "s3cret" });
  });

  it("refuses what loadConfig refuses about Redis, with the same message", () => {
    for (const env of [
      { REDIS_URL: "http://redis.example" },
      { REDIS_CLUSTER_NODES: "redis.example" },
      { REDIS_TLS_CA: "/nonexistent/ca.pem", REDIS_URL: "rediss://redis.example:6380" },
    ]) {
      const problem = problemWith(env, loadRedisTarget);
      expect(problem).toMatch(/REDIS_(URL|CLUSTER_NODES|TLS_CA) /);
      expect(problem).toBe(problemWith(env));
    }
  });
});
