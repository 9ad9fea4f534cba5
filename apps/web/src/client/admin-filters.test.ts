import { describe, expect, it } from "vitest";
import {
  orderFilterParams,
  readDay,
  readOrderFilters,
  readPaymentFilters,
  readUserSearch,
} from "./admin-filters.ts";
import { withParams } from "./url-state.ts";

const USER = "5b1c7a1e-0000-4000-8000-00000000000a";
const read = (query: string) => new URLSearchParams(query);

describe("readOrderFilters", () => {
  it("reads the filters an address holds", () => {
    expect(
      readOrderFilters(
        read(`status=CANCELLED&email=%20a%40b.test%20&from=2026-01-01&to=2026-12-31&userId=${USER}`),
      ),
    ).toEqual({ status: "CANCELLED", email: "a@b.test", from: "2026-01-01", to: "2026-12-31", userId: USER });
  });

  it("reads a user id as the API writes it", () => {
    expect(readOrderFilters(read(`userId=${USER.toUpperCase()}`)).userId).toBe(USER);
  });

  it("reads what is not a filter as no filter", () => {
    expect(
      readOrderFilters(read("status=SHIPPED&email=%00x&from=yesterday&to=2026-02-30&userId=not-a-user")),
    ).toEqual({ status: "", email: "", from: "", to: "", userId: "" });
    expect(readOrderFilters(read(`email=${"a".repeat(255)}`)).email).toBe("");
    expect(readOrderFilters(read("status=new")).status).toBe("");
  });

  it("drops a range that ends before it starts (the API refuses it)", () => {
    expect(readOrderFilters(read("from=2026-12-31&to=2026-01-01"))).toMatchObject({ from: "", to: "" });
  });
});

describe("readDay", () => {
  it.each(["2026-01-01", "2024-02-29"])("takes a day that exists: %s", (day) => {
    expect(readDay(day)).toBe(day);
  });
  it.each([null, "", "2026-1-1", "2026-13-01", "2025-02-29", "2026-01-01T00:00", "01/01/2026"])(
    "refuses %s",
    (text) => {
      expect(readDay(text)).toBe("");
    },
  );
});

describe("orderFilterParams", () => {
  it("keeps the address's other parameters, userId included, and removes emptied filters", () => {
    const params = read(`userId=${USER}&status=NEW&email=x%40y.test&utm=z`);
    const next = withParams(
      params,
      orderFilterParams({ status: "", email: "  ", from: "2026-01-01", to: "" }),
    );
    expect(next.toString()).toBe(`userId=${USER}&utm=z&from=2026-01-01`);
  });
});

describe("readPaymentFilters", () => {
  it("reads an outcome and a user", () => {
    expect(readPaymentFilters(read(`outcome=FAILED&userId=${USER}`))).toEqual({
      outcome: "FAILED",
      userId: USER,
    });
  });
  it("reads anything else as no filter", () => {
    expect(readPaymentFilters(read("outcome=LOST&userId=42"))).toEqual({ outcome: "", userId: "" });
  });
});

describe("readUserSearch", () => {
  it("tells no search from a search for everyone", () => {
    expect(readUserSearch(read(""))).toEqual({ email: null, user: null });
    expect(readUserSearch(read("email="))).toEqual({ email: "", user: null });
    expect(readUserSearch(read(`email=%20ann%20&user=${USER}`))).toEqual({ email: "ann", user: USER });
  });
  it("reads a selected user that is no user id as none", () => {
    expect(readUserSearch(read("email=ann&user=someone"))).toEqual({ email: "ann", user: null });
  });
});
