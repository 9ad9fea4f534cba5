import { describe, expect, it } from "vitest";
import { returnPath } from "./return-path.ts";

describe("returnPath", () => {
  it.each([
    ["/", "/"],
    ["/orders/5b1c7a1e-0000-4000-8000-000000000000", "/orders/5b1c7a1e-0000-4000-8000-000000000000"],
    ["/admin/orders?userId=abc#top", "/admin/orders?userId=abc#top"],
  ])("keeps a path of this site: %s", (next, expected) => {
    expect(returnPath(next)).toBe(expected);
  });

  it.each([
    null,
    undefined,
    "",
    "orders",
    "//evil.example/x",
    "/\\evil.example",
    "/..//evil.example/x",
    "/.//evil.example",
    "/%2e%2e//evil.example",
    "/./\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/login",
    "/register?next=/",
  ])("refuses what could lead elsewhere or nowhere: %s", (next) => {
    expect(returnPath(next)).toBeNull();
  });
});
