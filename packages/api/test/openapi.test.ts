import { describe, expect, it } from "vitest";
import { generateOpenApiDocument } from "../src/openapi.ts";

describe("OpenAPI document", () => {
  it("documents every REST route of the spec with its success status and our error body", () => {
    const doc = generateOpenApiDocument();
    const routes = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        "GET /admin/users",
        "GET /auth/me",
        "POST /admin/admins",
        "POST /auth/login",
        "POST /auth/logout",
        "POST /auth/password",
        "POST /auth/refresh",
        "POST /auth/register",
        "POST /accounts",
        "GET /accounts/me",
        "POST /accounts/me/top-up",
        "POST /admin/users/{userId}/top-up",
        "POST /orders",
        "GET /orders",
        "GET /orders/{id}",
        "GET /accounts/me/ledger",
        "GET /admin/orders",
        "GET /admin/users/{userId}",
        "GET /admin/payments",
        "GET /admin/outbox/parked",
      ].sort(),
    );
    expect(doc.servers).toEqual([{ url: "/api/v1" }]);
    expect(Object.keys(doc.paths?.["/auth/register"]?.post?.responses ?? {})).toContain("201");
    expect(Object.keys(doc.paths?.["/auth/register"]?.post?.responses ?? {})).not.toContain("200");
    expect(Object.keys(doc.paths?.["/auth/login"]?.post?.responses ?? {})).toContain("200");
    expect(doc.components?.schemas?.["error.BAD_REQUEST"]).toMatchObject({ required: ["error"] });
  });

  it("documents money as integers, the Idempotency-Key header, 201s and each route's own error texts", () => {
    const doc = generateOpenApiDocument();
    const paths = doc.paths as Record<string, Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const createOrder = paths["/orders"]!.post;
    const body = createOrder.requestBody.content["application/json"].schema;
    expect(body.properties.amount).toMatchObject({ type: "integer", minimum: 1, maximum: 1_000_000_000 });
    expect(body.properties.description).toMatchObject({ type: "string", minLength: 1, maxLength: 500 });
    expect(body.required).toEqual(["amount", "description"]);
    expect(createOrder.parameters).toContainEqual(
      expect.objectContaining({ in: "header", name: "Idempotency-Key" }),
    );
    expect(Object.keys(createOrder.responses)).toEqual(expect.arrayContaining(["201", "400", "401", "422"]));
    expect(Object.keys(paths["/accounts"]!.post.responses)).toContain("201");
    expect(paths["/accounts/me/top-up"]!.post.parameters).toContainEqual(
      expect.objectContaining({ in: "header", name: "Idempotency-Key" }),
    );
    expect(paths["/admin/users/{userId}/top-up"]!.post.responses["403"].description).toBe("Not an admin");
    expect(paths["/orders/{id}"]!.get.responses["401"].description).toBe("Not signed in");
    const schemas = doc.components?.schemas as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(schemas.Account.properties.balance).toMatchObject({ type: "integer", minimum: 0 });
    expect(schemas.Order.properties.amount).toMatchObject({ type: "integer" });
  });

  it("documents the history views: paging parameters, enums, signed amounts and the 404 of a user page", () => {
    const doc = generateOpenApiDocument();
    const paths = doc.paths as Record<string, Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const schemas = doc.components?.schemas as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const parameters = (path: string) =>
      Object.fromEntries(
        (paths[path]!.get.parameters as { name: string; in: string; schema: unknown }[]).map((p) => [
          p.name,
          p,
        ]),
      );

    const ledger = parameters("/accounts/me/ledger");
    expect(Object.keys(ledger).sort()).toEqual(["cursor", "limit"]);
    expect(ledger.limit).toMatchObject({
      in: "query",
      schema: { type: "integer", minimum: 1, maximum: 100 },
    });
    expect(ledger.cursor).toMatchObject({ in: "query", schema: { type: "string" } });
    expect(schemas.LedgerEntry.properties.kind.enum).toEqual(["TOP_UP", "ORDER_DEBIT"]);
    expect(schemas.LedgerEntry.properties.amount).toMatchObject({ type: "integer" });
    expect(schemas.LedgerEntry.properties.balanceAfter).toMatchObject({ type: "integer", minimum: 0 });

    const orders = parameters("/admin/orders");
    expect(Object.keys(orders).sort()).toEqual([
      "cursor",
      "email",
      "from",
      "limit",
      "status",
      "to",
      "userId",
    ]);
    expect(orders.status).toMatchObject({ schema: { enum: ["NEW", "FINISHED", "CANCELLED"] } });
    expect(orders.from).toMatchObject({ schema: { type: "string", format: "date-time" } });
    expect(schemas.AdminOrder.properties.email).toBeDefined();

    const payments = parameters("/admin/payments");
    expect(Object.keys(payments).sort()).toEqual(["cursor", "limit", "outcome", "userId"]);
    expect(payments.outcome).toMatchObject({ schema: { enum: ["SUCCEEDED", "FAILED"] } });
    expect(schemas.Payment.properties.amount).toMatchObject({ type: "integer" });

    const user = paths["/admin/users/{userId}"]!.get;
    expect(user.parameters).toContainEqual(
      expect.objectContaining({ in: "path", name: "userId", required: true }),
    );
    expect(user.responses["404"].description).toBe("No such user");
    expect(user.responses["403"].description).toBe("Not an admin");
    const byId = paths["/orders/{id}"]!.get.responses["200"].content["application/json"].schema;
    expect(byId.properties.history.items).toEqual({ $ref: "#/components/schemas/OrderHistoryEntry" });
  });
});
