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
        "POST /auth/refresh",
        "POST /auth/register",
      ].sort(),
    );
    expect(doc.servers).toEqual([{ url: "/api/v1" }]);
    expect(Object.keys(doc.paths?.["/auth/register"]?.post?.responses ?? {})).toContain("201");
    expect(Object.keys(doc.paths?.["/auth/register"]?.post?.responses ?? {})).not.toContain("200");
    expect(Object.keys(doc.paths?.["/auth/login"]?.post?.responses ?? {})).toContain("200");
    expect(doc.components?.schemas?.["error.BAD_REQUEST"]).toMatchObject({ required: ["error"] });
  });
});
