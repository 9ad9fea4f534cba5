import { describe, expect, it } from "vitest";
import { isAllowedOrigin, requestOrigin } from "../src/origin.ts";

const target = (headers: Record<string, string>, encrypted = false) => ({
  header: (name: string) => headers[name],
  encrypted,
});

describe("requestOrigin", () => {
  it("is the Host with the connection's scheme", () => {
    expect(requestOrigin(target({ host: "Shop.Example:3000" }), false)).toBe("http://shop.example:3000");
    expect(requestOrigin(target({ host: "shop.example:443" }, true), false)).toBe("https://shop.example");
    expect(requestOrigin(target({}), false)).toBeNull();
  });

  it("takes X-Forwarded-Host/-Proto only behind a trusted proxy", () => {
    const forwarded = {
      host: "web-1:3000",
      "x-forwarded-host": "shop.example",
      "x-forwarded-proto": "https",
    };
    expect(requestOrigin(target(forwarded), true)).toBe("https://shop.example");
    expect(requestOrigin(target(forwarded), false)).toBe("http://web-1:3000");
    // A first hop's values win; an unknown scheme is ignored.
    expect(
      requestOrigin(
        target({ host: "x", "x-forwarded-host": "a.example, b.example", "x-forwarded-proto": "gopher" }),
        true,
      ),
    ).toBe("http://a.example");
  });
});

describe("isAllowedOrigin", () => {
  it("without ALLOWED_ORIGINS: only the origin the request was addressed to", () => {
    const own = "http://localhost:3000";
    expect(isAllowedOrigin("http://localhost:3000", own, [])).toBe(true);
    expect(isAllowedOrigin("http://LOCALHOST:3000", own, [])).toBe(true);
    for (const origin of [
      "http://localhost:3001",
      "https://localhost:3000",
      "http://evil.example",
      "null",
      "",
      "x",
    ]) {
      expect(isAllowedOrigin(origin, own, []), origin).toBe(false);
    }
    expect(isAllowedOrigin("http://localhost:3000", null, [])).toBe(false);
  });

  it("with ALLOWED_ORIGINS: exactly those, whatever the request's own host", () => {
    const allowed = ["https://shop.example"];
    expect(isAllowedOrigin("https://shop.example:443", "http://web-1:3000", allowed)).toBe(true);
    expect(isAllowedOrigin("http://web-1:3000", "http://web-1:3000", allowed)).toBe(false);
    expect(isAllowedOrigin("https://shop.example.evil.example", null, allowed)).toBe(false);
  });
});
