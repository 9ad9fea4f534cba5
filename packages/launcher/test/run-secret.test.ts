// `npm start` in development gives its processes a random token secret, never the one in the repository.
import { describe, expect, it } from "vitest";
import { KNOWN_DEVELOPMENT_SECRETS } from "@gozon/core/config";
import { withRunSecret } from "../src/run-secret.ts";

describe("withRunSecret", () => {
  it("gives a development run without JWT_SECRET a random secret of 32 bytes, new for each run", () => {
    const first = withRunSecret({ PORT: "3000" }, { NODE_ENV: "development" });
    const second = withRunSecret({ PORT: "3000" }, { NODE_ENV: "development" });
    expect(first.JWT_SECRET).toMatch(/^[0-9a-f]{64}$/);
    expect(second.JWT_SECRET).not.toBe(first.JWT_SECRET);
    expect(KNOWN_DEVELOPMENT_SECRETS.has(first.JWT_SECRET!)).toBe(false);
    expect(first.PORT).toBe("3000");
  });

  it("keeps a secret that was given, and leaves production and tests to their own rules", () => {
    const given = "a".repeat(64);
    expect(withRunSecret({ JWT_SECRET: given }, { NODE_ENV: "development" }).JWT_SECRET).toBe(given);
    expect(withRunSecret({}, { NODE_ENV: "production" }).JWT_SECRET).toBeUndefined();
    expect(withRunSecret({}, { NODE_ENV: "test" }).JWT_SECRET).toBeUndefined();
  });
});
