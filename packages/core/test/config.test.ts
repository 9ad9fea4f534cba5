import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, serviceDatabaseUrls } from "../src/config.ts";

function problemWith(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
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
    expect(problemWith({ JWT_SECRET: "short" })).toMatch(/JWT_SECRET must be at least 32 characters/);
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
