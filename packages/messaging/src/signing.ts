// Authenticated messages: every message a service puts on a queue or publishes on pub/sub carries an
// HMAC-SHA256 under a key only the services hold (MESSAGE_SIGNING_KEY), and every receiver checks it
// before it looks at anything else. Redis is shared infrastructure: whoever can write to it could
// otherwise put a `PaymentRequested` on the payments queue (a debit for an order that exists nowhere), a
// `PaymentSucceeded` on the results queue, or an order event on a shopper's live feed.
//
// node:crypto's `createHmac` and `timingSafeEqual` are all this needs: a MAC over bytes with one shared
// key is a solved problem, and a library would only add a dependency around these two calls (JWTs are
// for tokens handed to clients; nothing here leaves the services).
//
// The envelope. A signed message is the message exactly as before (`{ messageId, type, version,
// occurredAt, payload }`, see contracts.ts) with one field beside it, `sig`, so a job's data in Redis, in
// Bull Board and in the outbox stays the message everyone knows. The signed bytes are the JSON text of
// the message without `sig` (`JSON.stringify`), and a receiver recomputes them from what it parsed:
// JSON.parse keeps the key order and JSON.stringify writes numbers and strings one way only, so the text
// a receiver rebuilds is the text the sender signed, byte for byte, and the object it goes on to read is
// exactly the one whose text was checked. Anything that changes the message on the way (another field,
// a value, a key order) fails the check: the failure is always a refusal, never an acceptance.
//
// Versions. `sig` is `<scheme>:<mac>`; `hs256v1:` followed by the MAC in base64url is the only scheme,
// so another algorithm can come as a new scheme beside it. Adding `sig` is adding a
// field, which contracts.ts allows without a new message version (tolerant readers drop it). Unsigned
// messages are refused, including those already in the queues when this is deployed: accepting them
// would let anyone forge one by leaving the field out. The orders reconciler asks again for every order
// still NEW, so the refused requests and results of a deploy are sent again, signed (README, upgrading).
import { createHmac, timingSafeEqual } from "node:crypto";

const SCHEME = "hs256v1";

// Rotation. A system signs with one key and accepts that key's signatures and those of a few others
// (MESSAGE_SIGNING_KEYS_ACCEPTED), so a key is changed without a pause, whatever order its processes
// restart in: first every process accepts the new key, then every process signs with it (and accepts
// the old one), then the old one is dropped. A message signed under a key no process accepts is poison,
// and the orders reconciler asks again for its order, so a step taken out of turn delays, never loses.

/** The signing key, held so its text is not logged or serialized by mistake. */
export type MessageKey = {
  readonly sign: (text: string) => string;
  /** Whether `mac` is the MAC of `text` under the signing key or one of the accepted ones. */
  readonly accepts: (text: string, mac: string) => boolean;
};

/**
 * The signing key of MESSAGE_SIGNING_KEY and the keys whose signatures it also accepts (each at least 32
 * bytes; the config checks that).
 */
export function messageKey(secret: string, accepted: readonly string[] = []): MessageKey {
  const keys = [secret, ...accepted].map((text) => Buffer.from(text, "utf8"));
  if (keys.some((key) => key.length === 0)) throw new Error("a message signing key must not be empty");
  const macOf = (key: Buffer, text: string) =>
    createHmac("sha256", key).update(text, "utf8").digest("base64url");
  return Object.freeze({
    sign: (text: string) => macOf(keys[0]!, text),
    accepts: (text: string, mac: string) => {
      // Compared as text: a MAC is one base64url text, and another spelling of its bytes is refused.
      const given = Buffer.from(mac, "utf8");
      // The signing key first: every message but those of a rotation's few minutes stops there.
      return keys.some((key) => {
        const expected = Buffer.from(macOf(key, text), "utf8");
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
    },
    toJSON: () => "[message key]",
  });
}

/** The message with its `sig`. `message` must be plain JSON data (it is, once it went through JSON). */
export function signMessage<M extends object>(key: MessageKey, message: M): M & { sig: string } {
  const { sig: _ignored, ...unsigned } = message as M & { sig?: unknown };
  return { ...(unsigned as M), sig: `${SCHEME}:${key.sign(JSON.stringify(unsigned))}` };
}

/** A signed message as pub/sub text. */
export function signedText(key: MessageKey, message: object): string {
  return JSON.stringify(signMessage(key, message));
}

export type Verified = { ok: true; message: Record<string, unknown> } | { ok: false; error: string };

/**
 * The message inside `data` without its `sig` when the signature is this key's over exactly its other
 * fields; otherwise why not. Never throws: a message that fails is poison, and the caller says where it
 * goes. Compared in constant time, so the time taken tells nothing of how much of a guess was right.
 */
export function verifyMessage(key: MessageKey, data: unknown): Verified {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ok: false, error: "unsigned message: not an object" };
  }
  const { sig, ...message } = data as Record<string, unknown>;
  if (sig === undefined) return { ok: false, error: "unsigned message: no sig" };
  if (typeof sig !== "string" || !sig.startsWith(`${SCHEME}:`)) {
    return { ok: false, error: `bad signature: not a ${SCHEME} signature` };
  }
  let text: string;
  try {
    text = JSON.stringify(message);
  } catch {
    return { ok: false, error: "bad signature: the message cannot be serialized" };
  }
  if (!key.accepts(text, sig.slice(SCHEME.length + 1))) {
    return { ok: false, error: "bad signature: not signed by this system's keys, or changed since" };
  }
  return { ok: true, message };
}

/** `verifyMessage` for pub/sub text: the message, or null for anything unsigned, forged or not JSON. */
export function verifiedText(key: MessageKey, raw: string): Record<string, unknown> | null {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  const verified = verifyMessage(key, data);
  return verified.ok ? verified.message : null;
}
