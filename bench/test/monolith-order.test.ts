import { describe, expect, it } from "vitest";
import { fieldErrors, orderFromRow, settleStatus } from "../src/monolith-order.ts";

describe("settleStatus", () => {
  it("finishes a paid order and cancels an unpaid one with the saga's reasons", () => {
    expect(settleStatus({ debited: true, hasAccount: true })).toEqual({ status: "FINISHED", reason: null });
    expect(settleStatus({ debited: false, hasAccount: true })).toEqual({
      status: "CANCELLED",
      reason: "INSUFFICIENT_FUNDS",
    });
    expect(settleStatus({ debited: false, hasAccount: false })).toEqual({
      status: "CANCELLED",
      reason: "NO_ACCOUNT",
    });
  });
});

describe("orderFromRow", () => {
  const row = {
    id: "0b6d7c1e-4a57-4c7e-9a4b-3f7f2f0d1a11",
    user_id: "5d0c2e9a-9a0e-4b39-8d36-0b1f6d3f7c22",
    amount: "150000",
    description: "Ёлочные игрушки",
    status: "CANCELLED",
    cancel_reason: "INSUFFICIENT_FUNDS",
    created_at: new Date("2026-12-01T04:00:00.000Z"),
    updated_at: new Date("2026-12-01T04:00:00.005Z"),
  };

  it("gives the API's shape: integer minor units, ISO timestamps", () => {
    expect(orderFromRow(row)).toEqual({
      id: row.id,
      userId: row.user_id,
      amount: 150000,
      description: "Ёлочные игрушки",
      status: "CANCELLED",
      cancelReason: "INSUFFICIENT_FUNDS",
      createdAt: "2026-12-01T04:00:00.000Z",
      updatedAt: "2026-12-01T04:00:00.005Z",
    });
  });

  it("refuses an amount a JS number cannot hold exactly", () => {
    expect(() => orderFromRow({ ...row, amount: "9007199254740993" })).toThrow(/safe range/);
  });
});

describe("fieldErrors", () => {
  it("names each field once (its first problem) and the body itself as `body`", () => {
    expect(
      fieldErrors([
        { path: ["amount"], message: "must be at least 1" },
        { path: ["amount"], message: "must be an integer number of minor units" },
        { path: ["description"], message: "must not be blank" },
        { path: [], message: "must be an object with amount and description" },
      ]),
    ).toEqual({
      amount: "must be at least 1",
      description: "must not be blank",
      body: "must be an object with amount and description",
    });
  });
});
