// Signing and checking messages (HMAC-SHA256 under MESSAGE_SIGNING_KEY): what a receiver accepts is
// exactly what a holder of the key signed, field for field, and nothing else.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildMessage, openMessage } from "../src/contracts.ts";
import { messageKey, signedText, signMessage, verifiedText, verifyMessage } from "../src/signing.ts";

const key = messageKey("the-services-own-signing-key-0123456789");
const otherKey = messageKey("somebody-elses-signing-key-0123456789ab");
const request = (amount = 100) =>
  buildMessage("PaymentRequested", { orderId: randomUUID(), userId: randomUUID(), amount });
/** As a receiver gets it: through JSON, as BullMQ and pub/sub carry it. */
const wire = <T>(data: T): T => JSON.parse(JSON.stringify(data)) as T;

describe("signMessage / verifyMessage", () => {
  it("signs beside the fields, which stay as they were, and a receiver gets the message back", () => {
    const message = request();
    const signed = signMessage(key, message);
    expect(signed).toEqual({ ...message, sig: expect.stringMatching(/^hs256v1:[A-Za-z0-9_-]{43}$/) });
    expect(verifyMessage(key, wire(signed))).toEqual({ ok: true, message });
    expect(verifiedText(key, signedText(key, message))).toEqual(message);
    // Deterministic: the same message, the same signature (a relay's re-add matches the first add).
    expect(signMessage(key, message).sig).toBe(signed.sig);
    // Signing a signed message replaces its signature; it does not sign the old one.
    expect(signMessage(key, signed)).toEqual(signed);
  });

  it("refuses a message without a signature, or with one of another key, another message, or another form", () => {
    const message = request();
    const signed = signMessage(key, message);
    const cases: Record<string, unknown> = {
      unsigned: message,
      "another key": signMessage(otherKey, message),
      "another message's signature": { ...message, sig: signMessage(key, request()).sig },
      "a field changed": { ...signed, payload: { ...message.payload, amount: 1 } },
      "a field added": { ...signed, extra: true },
      "a field removed": (({ occurredAt: _gone, ...rest }) => rest)(signed),
      "keys reordered": { sig: signed.sig, ...Object.fromEntries(Object.entries(message).reverse()) },
      "a truncated signature": { ...signed, sig: signed.sig.slice(0, -1) },
      "a longer signature": { ...signed, sig: `${signed.sig}A` },
      "another scheme": { ...signed, sig: signed.sig.replace("hs256v1", "hs256v2") },
      "a signature that is not text": { ...signed, sig: 42 },
      "an empty signature": { ...signed, sig: "" },
      "a null signature": { ...signed, sig: null },
      "not an object": "PaymentRequested",
      null: null,
      "an array": [signed],
    };
    for (const [name, data] of Object.entries(cases)) {
      const verified = verifyMessage(key, wire(data));
      expect(verified.ok, name).toBe(false);
      if (!verified.ok) expect(verified.error, name).toMatch(/^(unsigned message|bad signature)/);
    }
    expect(verifiedText(key, "{")).toBeNull();
    expect(verifiedText(key, JSON.stringify(message))).toBeNull();
  });

  it("accepts the signatures of the keys it is given besides its own, and signs with its own only", () => {
    const message = request();
    const rotated = messageKey("the-next-signing-key-0123456789abcdefgh", [
      "the-services-own-signing-key-0123456789",
    ]);
    // The new key signs; the old one's messages, still in the queues, are accepted.
    expect(verifyMessage(rotated, wire(signMessage(key, message)))).toEqual({ ok: true, message });
    expect(verifyMessage(rotated, wire(signMessage(rotated, message)))).toEqual({ ok: true, message });
    expect(signMessage(rotated, message).sig).not.toBe(signMessage(key, message).sig);
    // A process still on the old key alone refuses the new one's: the first step of a rotation is to
    // accept the new key everywhere.
    expect(verifyMessage(key, wire(signMessage(rotated, message))).ok).toBe(false);
    expect(verifyMessage(rotated, wire(signMessage(otherKey, message))).ok).toBe(false);
  });

  it("refuses a MAC written otherwise than as its one base64url text, though it decodes to the same bytes", () => {
    const signed = signMessage(key, request());
    const mac = signed.sig.slice("hs256v1:".length);
    // 43 characters carry 258 bits for 256: the last one has two spare bits, so four texts decode alike.
    const last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const index = last.indexOf(mac.at(-1)!);
    const sibling = `${mac.slice(0, -1)}${last[index ^ 1]}`;
    expect(Buffer.from(sibling, "base64url").equals(Buffer.from(mac, "base64url"))).toBe(true);
    expect(verifyMessage(key, wire({ ...signed, sig: `hs256v1:${sibling}` })).ok).toBe(false);
    expect(verifyMessage(key, wire({ ...signed, sig: `hs256v1:${mac}=` })).ok).toBe(false);
    expect(
      verifyMessage(key, wire({ ...signed, sig: `hs256v1:${mac.slice(0, 20)} ${mac.slice(20)}` })).ok,
    ).toBe(false);
  });

  it("the key never shows in a log line or a JSON dump", () => {
    expect(JSON.stringify({ key })).not.toContain("the-services-own");
    expect(() => messageKey("")).toThrow();
  });
});

describe("openMessage", () => {
  it("checks the signature before anything else, and then the contract", () => {
    const message = request();
    expect(openMessage(key, wire(signMessage(key, message)), ["PaymentRequested"])).toEqual({
      ok: true,
      message,
    });
    // Unsigned: refused for its signature, though it is a valid message.
    expect(openMessage(key, wire(message), ["PaymentRequested"])).toMatchObject({
      ok: false,
      reason: "signature",
      messageId: message.messageId,
    });
    // Signed but not a valid request: refused for its content.
    const invalid = { ...message, payload: { ...message.payload, amount: 1.5 } };
    expect(openMessage(key, wire(signMessage(key, invalid)))).toMatchObject({
      ok: false,
      reason: "malformed",
    });
    expect(openMessage(key, wire(signMessage(key, message)), ["PaymentSucceeded"])).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });
});
