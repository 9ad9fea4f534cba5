// The API's documentation as a user meets it, against the real web process and workers: the OpenAPI
// document, Swagger UI with its local assets, and the committed Postman collection run by newman.
import { readFile } from "node:fs/promises";
import SwaggerParser from "@apidevtools/swagger-parser";
import newman, { type NewmanRunSummary } from "newman";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildCollection,
  COLLECTION_FILE,
  DEFAULT_BASE_URL,
  renderCollection,
} from "../../../scripts/postman.ts";
import { waitFor } from "@gozon/core/testing";
import { ADMIN, startSystem, type System } from "../src/system.ts";

/** The REST rows of the API table in PRODUCT.md. */
const SPEC_OPERATIONS = [
  "POST /auth/register",
  "POST /auth/login",
  "POST /auth/refresh",
  "POST /auth/logout",
  "GET /auth/me",
  "POST /accounts",
  "GET /accounts/me",
  "POST /accounts/me/top-up",
  "POST /orders",
  "GET /orders",
  "GET /orders/{id}",
  "GET /admin/users",
  "POST /admin/users/{userId}/top-up",
  "GET /accounts/me/ledger",
  "GET /admin/orders",
  "GET /admin/users/{userId}",
  "GET /admin/payments",
];
const PUBLIC_OPERATIONS = [
  "POST /auth/register",
  "POST /auth/login",
  "POST /auth/refresh",
  "POST /auth/logout",
];

type Operation = { security?: Record<string, string[]>[] };
type OpenApiDocument = {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
};

let system: System;
let webUrl: string;

beforeAll(async () => {
  system = await startSystem();
  webUrl = system.webUrls[0] as string;
});

afterAll(async () => {
  await system?.stop();
});

async function served(): Promise<OpenApiDocument> {
  const res = await fetch(`${webUrl}/api/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as OpenApiDocument;
}

/** Runs the collection; `onRequest` hears the name of each item whose request has been answered. */
function runCollection(envVar: { key: string; value: string }[], onRequest?: (item: string) => void) {
  return readFile(COLLECTION_FILE, "utf8").then(
    (text) =>
      new Promise<NewmanRunSummary>((resolve, reject) => {
        newman
          .run(
            {
              collection: JSON.parse(text) as object,
              envVar: [{ key: "baseUrl", value: `${webUrl}/api/v1` }, ...envVar],
              reporters: [],
              timeoutRequest: 30_000,
            },
            (error, result) => (error ? reject(error) : resolve(result)),
          )
          .on("request", (_error: unknown, execution: { item: { name: string } }) =>
            onRequest?.(execution.item.name),
          );
      }),
  );
}

const failuresOf = (summary: NewmanRunSummary) =>
  summary.run.failures.map(
    (failure) => `${failure.source?.name ?? "?"}: ${failure.error.name}: ${failure.error.message}`,
  );

const operationsOf = (doc: OpenApiDocument) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
  );

describe("OpenAPI document", () => {
  it("is valid OpenAPI 3 and lists every REST operation of the spec with its method", async () => {
    const doc = await served();
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    // Validates against the OpenAPI schema and resolves every $ref.
    await SwaggerParser.validate(structuredClone(doc) as never);
    expect(operationsOf(doc)).toEqual(expect.arrayContaining(SPEC_OPERATIONS));
    for (const route of ["GET /auth/register", "POST /orders/{id}", "GET /accounts"]) {
      expect(operationsOf(doc)).not.toContain(route);
    }
  });

  it("points at the server the caller reached, under /api/v1", async () => {
    const doc = await served();
    expect(doc.servers).toEqual([{ url: `${webUrl}/api/v1`, description: "This server" }]);
    // TRUST_PROXY is off here: a forged X-Forwarded-Proto changes nothing.
    const forged = await fetch(`${webUrl}/api/openapi.json`, { headers: { "x-forwarded-proto": "https" } });
    expect(((await forged.json()) as OpenApiDocument).servers?.[0]?.url).toBe(`${webUrl}/api/v1`);
  });

  it("declares bearer auth on every protected operation, so Swagger's Authorize works", async () => {
    const doc = await served();
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const name = `${method.toUpperCase()} ${path}`;
        if (PUBLIC_OPERATIONS.includes(name)) continue;
        expect(operation.security, name).toContainEqual({ bearer: [] });
      }
    }
  });
});

describe("Swagger UI", () => {
  it("serves /api/docs from local assets that all load", async () => {
    const res = await fetch(`${webUrl}/api/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
    expect(assets).toEqual(
      expect.arrayContaining([
        "/api/docs/swagger-ui.css",
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/swagger-initializer.js",
      ]),
    );
    for (const asset of assets) {
      expect(asset, "no CDN: every asset comes from this server").toMatch(/^\/api\/docs\//);
      const loaded = await fetch(`${webUrl}${asset}`);
      expect(loaded.status, asset).toBe(200);
      expect((await loaded.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
    const init = await (await fetch(`${webUrl}/api/docs/swagger-initializer.js`)).text();
    expect(init).toContain('"/api/openapi.json"');
    expect(init).toContain("persistAuthorization: true");
    expect((await fetch(`${webUrl}/api/docs/package.json`)).status).toBe(404);
    expect((await fetch(`${webUrl}/api/docs/..%2F..%2Fpackage.json`)).status).toBe(404);
  });
});

describe("Postman collection", () => {
  it("is what `npm run postman` generates from the served document (never stale)", async () => {
    const doc = await served();
    const fresh = await renderCollection(
      await buildCollection({ ...doc, servers: [{ url: DEFAULT_BASE_URL }] }),
    );
    const committed = await readFile(COLLECTION_FILE, "utf8");
    expect(committed === fresh, "docs/postman is stale: run `npm run postman` and commit it").toBe(true);
  });

  it("runs with newman through the whole scenario, and the order ends FINISHED", async () => {
    const summary = await runCollection([
      { key: "adminEmail", value: ADMIN.email },
      { key: "adminPassword", value: ADMIN.password },
      { key: "pollIntervalMs", value: "200" },
    ]);
    expect(failuresOf(summary)).toEqual([]);

    const executed = summary.run.executions.map((execution) => execution.item.name);
    expect(new Set(executed)).toEqual(
      new Set([
        "Register a shopper",
        "Log in",
        "Who am I",
        "Open the account",
        "Top up 1 000,00",
        "My account",
        "Place an order of 250,00",
        "Poll the order until it settles",
        "List my orders",
        "Balance after the payment",
        "My statement",
        "The order's history",
        "Change the password",
        "Refresh the tokens",
        "Log out",
        "Admin: log in",
        "Admin: find the shopper",
        "Admin: top up the shopper by 50,00",
        "Admin: the shopper's page",
        "Admin: the shopper's orders",
        "Admin: the shopper's payments",
        "Admin: create another admin",
      ]),
    );
    const assertions = summary.run.executions.flatMap((execution) => execution.assertions ?? []);
    expect(assertions.map((assertion) => assertion.assertion)).toContain("the order is paid: FINISHED");
    expect(assertions.map((assertion) => assertion.assertion)).toEqual(
      expect.arrayContaining([
        "the debit of the order, then the top-up",
        "NEW, then FINISHED",
        "balance 800,00, the order, the admin's top-up on top",
        "the order, FINISHED, with the email",
        "the order was paid: 250,00 SUCCEEDED",
      ]),
    );
    expect(summary.run.stats.assertions.failed).toBe(0);

    const placed = summary.run.executions.find((execution) =>
      execution.item.name.startsWith("Place an order"),
    );
    const orderId = (JSON.parse(placed?.response.stream?.toString() ?? "{}") as { order?: { id: string } })
      .order?.id;
    expect(orderId).toBeTruthy();
    const db = new pg.Client({ connectionString: system.dbs.urls.orders });
    await db.connect();
    try {
      const { rows } = await db.query<{ status: string }>("SELECT status FROM orders WHERE id = $1", [
        orderId,
      ]);
      expect(rows).toEqual([{ status: "FINISHED" }]);
    } finally {
      await db.end();
    }
  });

  it("keeps polling while the payment is delayed, until the order is FINISHED", async () => {
    // No payments worker: the order stays NEW until one starts again.
    await system.kill("payments-worker");
    let polled = 0;
    const run = runCollection(
      [
        { key: "adminEmail", value: "" },
        { key: "pollIntervalMs", value: "250" },
        { key: "pollMaxAttempts", value: "360" },
      ],
      (item) => {
        if (item === "Poll the order until it settles") polled++;
      },
    );
    // The payments worker comes back only once the collection has polled the order at least once (and
    // whatever happens: the tests after this one need it).
    try {
      await waitFor(() => polled > 0, { timeoutMs: 60_000, what: "the collection to poll the order" });
    } finally {
      await system.start("payments-worker");
    }
    const summary = await run;
    expect(failuresOf(summary)).toEqual([]);
    const polls = summary.run.executions.filter(
      (execution) => execution.item.name === "Poll the order until it settles",
    );
    expect(polls.length).toBeGreaterThan(1);
    const last = JSON.parse(polls.at(-1)?.response.stream?.toString() ?? "{}") as {
      order?: { status: string };
    };
    expect(last.order?.status).toBe("FINISHED");
  });

  it("skips the admin folder when no admin credentials are given", async () => {
    const summary = await runCollection([
      { key: "adminEmail", value: "" },
      { key: "pollIntervalMs", value: "200" },
    ]);
    expect(failuresOf(summary)).toEqual([]);
    const executed = summary.run.executions.map((execution) => execution.item.name);
    expect(executed.filter((name) => name.startsWith("Admin:"))).toEqual([]);
    expect(executed).toContain("Log out");
  });
});
