// A database that is down or overloaded is a 503 with Retry-After that the client may retry, not a 500.
// The API reaches Postgres through a TCP proxy that the test cuts: pooled connections die mid-life and
// new ones are refused, as when Postgres restarts or the network drops.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpProxy } from "@gozon/core/testing";
import { testServerUrl } from "@gozon/db/testing";
import { isDatabaseUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from "../src/errors.ts";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

/** A TCP proxy to the test Postgres. */
function startPostgresProxy() {
  const target = new URL(testServerUrl());
  return startTcpProxy(target.hostname, Number(target.port || 5432));
}

let proxy: Awaited<ReturnType<typeof startPostgresProxy>>;
let api: ApiHarness;
beforeAll(async () => {
  proxy = await startPostgresProxy();
  api = await startApi({ label: "api_unavailable", connectVia: proxy.route });
});
afterAll(async () => {
  await api?.close();
  await proxy?.close();
});

const LEAK = /stack|\n\s+at |prisma|SELECT|ECONN|127\.0\.0\.1|postgres/i;

describe("the database is unreachable", () => {
  it("REST and tRPC answer 503 with Retry-After and a JSON error; bad input is still a 400", async () => {
    const shopper = await api.shopper();
    expect((await api.trpc.query("orders.list", {}, shopper.token)).status).toBe(200);

    await proxy.cut();
    try {
      // identity database, over REST
      const rest = await api.rest.login(uniqueEmail(), strongPassword());
      expect(rest.status).toBe(503);
      expect(rest.headers.get("retry-after")).toBe(String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      expect(rest.headers.get("content-type")).toMatch(/^application\/json/);
      expect(rest.body.error).toMatchObject({
        code: "SERVICE_UNAVAILABLE",
        message: expect.stringMatching(/try again/),
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      });
      expect(rest.text).not.toMatch(LEAK);

      // orders database, over tRPC
      const trpc = await api.trpc.query("orders.list", {}, shopper.token);
      expect(trpc.status).toBe(503);
      expect(trpc.headers.get("retry-after")).toBe(String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      expect(trpc.headers.get("content-type")).toMatch(/^application\/json/);
      expect(trpc.body.error.message).toMatch(/try again/);
      expect(trpc.body.error.data).toMatchObject({
        code: "SERVICE_UNAVAILABLE",
        httpStatus: 503,
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      });
      expect(trpc.text).not.toMatch(LEAK);

      const badRest = await api.rest.login("not-an-email", strongPassword());
      expect(badRest.status).toBe(400);
      expect(badRest.body.error.fields).toHaveProperty("email");
      const badTrpc = await api.trpc.mutation("orders.create", { amount: "lots" }, shopper.token);
      expect(badTrpc.status).toBe(400);
      expect(badTrpc.body.error.data.code).toBe("BAD_REQUEST");

      // The operator sees why (the client never does).
      expect(api.logLines.some((line) => line.includes("database unavailable"))).toBe(true);
    } finally {
      await proxy.restore();
    }

    // The outage was transient: the same client recovers without a restart.
    expect((await api.trpc.query("orders.list", {}, shopper.token)).status).toBe(200);
  });
});

describe("isDatabaseUnavailable, on errors a real Prisma client throws", () => {
  const thrown = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      return error;
    }
    throw new Error("expected the database call to fail");
  };

  it("a connection terminated by the server mid-query (57P01)", async () => {
    const error = await thrown(() => api.db.$queryRaw`SELECT pg_terminate_backend(pg_backend_pid())`);
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it("a transaction that outlives its timeout (P2028)", async () => {
    const error = await thrown(() =>
      api.db.$transaction(
        async (tx) => {
          await new Promise((resolve) => setTimeout(resolve, 300));
          return tx.user.count();
        },
        { timeout: 50 },
      ),
    );
    expect(error).toMatchObject({ code: "P2028" });
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it("a statement cancelled by statement_timeout (57014)", async () => {
    const error = await thrown(() =>
      api.db.$transaction(async (tx) => {
        await tx.$executeRaw`SET LOCAL statement_timeout = 50`;
        return tx.$queryRaw`SELECT pg_sleep(1)`;
      }),
    );
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it("not a constraint violation, a bad query or a plain bug", async () => {
    const email = uniqueEmail();
    await api.db.user.create({ data: { email, passwordHash: "x" } });
    const duplicate = await thrown(() => api.db.user.create({ data: { email, passwordHash: "x" } }));
    expect(duplicate).toMatchObject({ code: "P2002" });
    expect(isDatabaseUnavailable(duplicate)).toBe(false);
    expect(isDatabaseUnavailable(await thrown(() => api.db.$queryRaw`SELECT no_such_column`))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError("cannot read properties of undefined"))).toBe(false);
  });
});
