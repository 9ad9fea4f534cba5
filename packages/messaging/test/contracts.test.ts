import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  buildMessage,
  openMessageText,
  parseMessage,
  parseMessageText,
  type PaymentRequested,
} from "../src/contracts.ts";
import { messageKey, signedText } from "../src/signing.ts";

const key = messageKey("the-services-own-signing-key-0123456789");

const orderId = randomUUID();
const userId = randomUUID();

function request(amount: unknown = 1500): Record<string, unknown> {
  return {
    messageId: randomUUID(),
    type: "PaymentRequested",
    version: 1,
    occurredAt: new Date().toISOString(),
    payload: { orderId, userId, amount },
  };
}

describe("buildMessage", () => {
  it("wraps a valid payload in an envelope with a fresh id, version 1 and a timestamp", () => {
    const a = buildMessage("PaymentRequested", { orderId, userId, amount: 100 });
    const b = buildMessage("PaymentRequested", { orderId, userId, amount: 100 });
    expect(a).toMatchObject({
      type: "PaymentRequested",
      version: 1,
      payload: { orderId, userId, amount: 100 },
    });
    expect(a.messageId).not.toBe(b.messageId);
    expect(new Date(a.occurredAt).toISOString()).toBe(a.occurredAt);
  });

  it("refuses to build a message its consumer would reject", () => {
    expect(() => buildMessage("PaymentRequested", { orderId, userId, amount: 1.5 })).toThrow();
    expect(() =>
      buildMessage("PaymentFailed", { orderId, userId, amount: 1, reason: "BROKE" as "NO_ACCOUNT" }),
    ).toThrow();
  });

  it("round-trips through JSON and parseMessage", () => {
    const message = buildMessage("PaymentFailed", {
      orderId,
      userId,
      amount: 7,
      reason: "INSUFFICIENT_FUNDS",
    });
    const parsed = parseMessage(JSON.parse(JSON.stringify(message)));
    expect(parsed).toEqual({ ok: true, message });
  });
});

describe("parseMessage", () => {
  it("accepts integer amounts from 1 to 1 000 000 000", () => {
    for (const amount of [1, 42, 1_000_000_000]) {
      const parsed = parseMessage<"PaymentRequested">(request(amount));
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect((parsed.message as PaymentRequested).payload.amount).toBe(amount);
    }
  });

  it.each([
    ["a float", 1.5],
    ["a numeric string", "10"],
    ["zero", 0],
    ["a negative amount", -5],
    ["more than 10^9", 1_000_000_001],
    ["10^12", 1e12],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["a bigint-like string", "1000000000000000000000"],
    ["null", null],
  ])("rejects %s as an amount, naming the field", (_label, amount) => {
    const data = request(amount);
    const parsed = parseMessage(data);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error).toMatch(/payload\.amount/);
      expect(parsed.messageId).toBe(data.messageId);
    }
  });

  it("rejects a missing amount, bad ids and a bad timestamp", () => {
    const base = request();
    const cases = [
      { ...base, payload: { orderId, userId } },
      { ...base, payload: { orderId: "not-a-uuid", userId, amount: 1 } },
      { ...base, messageId: "42" },
      { ...base, occurredAt: "yesterday" },
      { ...base, payload: undefined },
    ];
    for (const data of cases) expect(parseMessage(data).ok).toBe(false);
  });

  it("rejects unknown types and versions, and types a queue does not carry", () => {
    expect(parseMessage({ ...request(), type: "RefundRequested" })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unknown message type\/version RefundRequested@1/),
    });
    expect(parseMessage({ ...request(), version: 2 })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/PaymentRequested@2/),
    });
    expect(parseMessage({ ...request(), version: "1" }).ok).toBe(false);
    expect(parseMessage({ ...request(), type: "toString" }).ok).toBe(false);
    const success = buildMessage("PaymentSucceeded", { orderId, userId, amount: 1 });
    expect(parseMessage(success, ["PaymentRequested"])).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unexpected message type PaymentSucceeded/),
    });
  });

  it("never throws, whatever it is given", () => {
    for (const data of [undefined, null, 42, "x", [], { messageId: 7 }, Object.create(null)]) {
      expect(parseMessage(data).ok).toBe(false);
    }
  });

  it("drops unknown payload fields (tolerant reader) but keeps the known ones", () => {
    const data = request();
    (data.payload as Record<string, unknown>).couponCode = "NY2027";
    const parsed = parseMessage(data);
    expect(parsed.ok && parsed.message.payload).toEqual({ orderId, userId, amount: 1500 });
  });

  it("requires a reason exactly when an order status change is a cancellation", () => {
    const event = {
      position: 17,
      orderId,
      userId,
      amount: 100,
      description: "Ёлка 🎄",
      occurredAt: new Date().toISOString(),
    };
    const ok = (payload: object) =>
      parseMessage({
        ...request(),
        type: "OrderStatusChanged",
        version: 2,
        payload: { ...event, ...payload },
      }).ok;
    expect(ok({ status: "FINISHED", reason: null })).toBe(true);
    expect(ok({ status: "CANCELLED", reason: "NO_ACCOUNT" })).toBe(true);
    expect(ok({ status: "CANCELLED", reason: null })).toBe(false);
    expect(ok({ status: "FINISHED", reason: "NO_ACCOUNT" })).toBe(false);
    expect(ok({ status: "PAID", reason: null })).toBe(false);
  });

  it("builds an order status change in its current version, with its log position", () => {
    const payload = {
      position: 3,
      orderId,
      userId,
      status: "NEW" as const,
      reason: null,
      amount: 100,
      description: "x",
      occurredAt: new Date().toISOString(),
    };
    const message = buildMessage("OrderStatusChanged", payload);
    expect(message.version).toBe(2);
    expect(parseMessage(JSON.parse(JSON.stringify(message)))).toEqual({ ok: true, message });
    expect(parseMessage({ ...message, version: 1 }).ok).toBe(false);
    expect(() => buildMessage("OrderStatusChanged", { ...payload, position: 0 })).toThrow();
  });

  it("parses a balance change received as text, and nothing else", () => {
    const message = buildMessage("BalanceChanged", { userId, amount: 1_500, balance: 4_000 });
    expect(parseMessageText(key, signedText(key, message), "BalanceChanged")).toEqual(message.payload);
    // Signed, so that what fails is the payload.
    const withPayload = (payload: unknown) => signedText(key, { ...message, payload });
    for (const raw of [
      "{",
      "null",
      JSON.stringify(message), // a valid message that no service signed
      signedText(messageKey("another-systems-key-".repeat(2)), message),
      JSON.stringify(message.payload), // a bare payload, not a message
      withPayload({ userId, amount: 1.5, balance: 4_000 }),
      withPayload({ userId, amount: 1_500, balance: -1 }),
      withPayload({ userId, amount: "1500", balance: 4_000 }),
      withPayload({ userId: "someone", amount: 1_500, balance: 4_000 }),
    ]) {
      expect(parseMessageText(key, raw, "BalanceChanged"), raw).toBeNull();
    }
    // A valid message of another type is not a balance change.
    expect(
      parseMessageText(
        key,
        signedText(key, buildMessage("PaymentRequested", { orderId, userId, amount: 1 })),
        "BalanceChanged",
      ),
    ).toBeNull();
  });

  it("takes a message of any of the expected types from text, and says which it is", () => {
    const opened = buildMessage("AccountOpened", { userId });
    const changed = buildMessage("BalanceChanged", { userId, amount: 1, balance: 1 });
    const expected = ["BalanceChanged", "AccountOpened"] as const;
    expect(openMessageText(key, signedText(key, opened), expected)).toEqual(opened);
    expect(openMessageText(key, signedText(key, changed), expected)).toEqual(changed);
    expect(openMessageText(key, signedText(key, opened), ["BalanceChanged"])).toBeNull();
    expect(openMessageText(key, JSON.stringify(opened), expected)).toBeNull(); // unsigned
    expect(
      openMessageText(key, signedText(key, { ...opened, payload: { userId: "someone" } }), expected),
    ).toBeNull();
  });
});
