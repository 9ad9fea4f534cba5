import { createHmac, randomBytes } from "node:crypto";
import { SignJWT, jwtVerify } from "jose";
import { normalizeEmail } from "./users.ts";

const ISSUER = "gozon";
/** Not the access tokens' audience (`gozon-api`): a device token never signs a request in. */
const AUDIENCE = "gozon-device";
/** The label the device-token key is derived under from `JWT_SECRET`. */
const KEY_LABEL = "gozon device cookie v1";

/** How long a browser stays known after its last sign-in. */
export const DEVICE_TOKEN_TTL_SECONDS = 180 * 24 * 60 * 60;

export type DeviceTokens = {
  ttlSeconds: number;
  /** A token saying "this browser has signed in as `email`", with a fresh nonce. */
  sign(email: string): Promise<{ token: string; expiresAt: Date }>;
  /**
   * The nonce of `token` when it is a valid, unexpired device token for `email`, else null: a missing,
   * tampered, foreign (another email, another key, an access token) or expired token is simply absent.
   */
  verify(token: string | undefined, email: string): Promise<string | null>;
};

/**
 * Device cookies (OWASP: "Slow Down Online Guessing Attacks with Device Cookies"): an HS256 JWT whose
 * `sub` is a keyed digest of the email (the cookie never carries the address, and the digest cannot be
 * matched against a list of emails without the key) and whose `jti` is a random nonce, the handle its
 * failed sign-ins are counted under. Its key is derived from `JWT_SECRET` under a label of its own, and
 * it has an audience of its own: it can never pass as an access token, nor one as it.
 */
export function createDeviceTokens(opts: {
  secret: string;
  now: () => Date;
  ttlSeconds?: number;
}): DeviceTokens {
  const rawKey = createHmac("sha256", opts.secret).update(KEY_LABEL).digest();
  const key = crypto.subtle.importKey("raw", rawKey, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
  const subjectOf = (email: string) =>
    createHmac("sha256", rawKey).update(normalizeEmail(email)).digest("base64url");
  const ttlSeconds = opts.ttlSeconds ?? DEVICE_TOKEN_TTL_SECONDS;
  return {
    ttlSeconds,
    async sign(email) {
      const issuedAt = Math.floor(opts.now().getTime() / 1000);
      const expiresAt = issuedAt + ttlSeconds;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(subjectOf(email))
        .setJti(randomBytes(16).toString("base64url"))
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(expiresAt)
        .sign(await key);
      return { token, expiresAt: new Date(expiresAt * 1000) };
    },
    async verify(token, email) {
      if (!token) return null;
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
          subject: subjectOf(email),
          currentDate: opts.now(),
          requiredClaims: ["sub", "jti", "exp"],
        });
        return typeof payload.jti === "string" && payload.jti.length > 0 ? payload.jti : null;
      } catch {
        return null;
      }
    },
  };
}
