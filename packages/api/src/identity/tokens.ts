import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from "node:crypto";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import type { Logger } from "@gozon/core/logger";
import { deleteInBatches } from "@gozon/db/batches";
import type { IdentityClient } from "@gozon/db/clients";
import type { SessionRevocation } from "./session-revocations.ts";
import type { Role, User } from "./users.ts";

const ISSUER = "gozon";
const AUDIENCE = "gozon-api";
const ROLES: readonly Role[] = ["SHOPPER", "ADMIN"];
/** Verified access tokens kept per web instance (a few hundred bytes each). */
const VERIFIED_CACHE_SIZE = 10_000;

/** Who a valid access token speaks for. */
export type Caller = { id: string; role: Role };

export type AccessTokenCheck =
  | { ok: true; caller: Caller; expiresAt: Date; sessionId: string }
  | { ok: false; reason: "expired" | "invalid" };

export type AccessTokens = {
  ttlSeconds: number;
  /**
   * `sessionId` (the `sid` claim) is the refresh-token family: revoking it refuses the token and ends the
   * session's sockets. Every token names one, so every token can be revoked.
   */
  sign(user: Pick<User, "id" | "role">, sessionId: string): Promise<{ token: string; expiresAt: Date }>;
  verify(token: string): Promise<AccessTokenCheck>;
};

/** Short-lived HS256 JWTs: `sub` is the user id, `role` the role at sign-in, `sid` the session. */
export function createAccessTokens(opts: {
  secret: string;
  ttlSeconds: number;
  now: () => Date;
}): AccessTokens {
  // Imported once: given raw bytes, jose would import the HMAC key again on every sign and verify, and
  // every API request verifies a token.
  const key = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(opts.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  // Tokens already verified, by their exact text: every API request presents one, and the same token
  // comes back until it expires. A hit is only as good as the signature check it repeats (same bytes,
  // same key), so only the expiry is checked again. A Map bounded oldest-first is all this needs.
  const verified = new Map<string, Extract<AccessTokenCheck, { ok: true }>>();
  const remember = (token: string, check: Extract<AccessTokenCheck, { ok: true }>) => {
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, check);
    return check;
  };
  return {
    ttlSeconds: opts.ttlSeconds,
    async sign(user, sessionId) {
      const issuedAt = Math.floor(opts.now().getTime() / 1000);
      const expiresAt = issuedAt + opts.ttlSeconds;
      const token = await new SignJWT({ role: user.role, sid: sessionId })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(user.id)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(expiresAt)
        .sign(await key);
      return { token, expiresAt: new Date(expiresAt * 1000) };
    },
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        // jose's rule: a token is expired from its `exp` second on.
        if (opts.now().getTime() < known.expiresAt.getTime()) return known;
        verified.delete(token);
        return { ok: false, reason: "expired" };
      }
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
          currentDate: opts.now(),
          requiredClaims: ["sub", "exp", "iat", "sid"],
        });
        const role = payload.role as Role;
        const { sub, sid } = payload;
        if (typeof sub !== "string" || typeof sid !== "string" || !ROLES.includes(role))
          return { ok: false, reason: "invalid" };
        return remember(token, {
          ok: true,
          caller: { id: sub, role },
          expiresAt: new Date((payload.exp ?? 0) * 1000),
          sessionId: sid,
        });
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: "expired" };
        return { ok: false, reason: "invalid" };
      }
    },
  };
}

/** Refresh tokens are stored only as this digest: a database leak does not hand out sessions. */
export function digestToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export type RotateResult =
  | { ok: true; user: User; token: string; expiresAt: Date; familyId: string }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "reused" };

export type RefreshTokens = {
  ttlSeconds: number;
  /** A new token, in a new family unless `familyId` continues one. */
  issue(userId: string, familyId?: string): Promise<{ token: string; expiresAt: Date; familyId: string }>;
  /** Spends `token` and returns its successor; a token spent before revokes its whole family. */
  rotate(token: string): Promise<RotateResult>;
  /** Revokes the family `token` belongs to (logout). Unknown tokens are ignored. */
  revokeFamilyOf(token: string): Promise<void>;
  /** Revokes the user's session `sessionId` (an access token's `sid`: its family), if it is theirs. */
  revokeSession(userId: string, sessionId: string): Promise<void>;
  /** Revokes every live token of a user (a password change). */
  revokeAllOf(userId: string): Promise<void>;
  /** Deletes the tokens of families dead for longer than the retention; resolves to how many. */
  purge(opts?: { retentionSeconds?: number; batchSize?: number }): Promise<number>;
};

/** A sign-in lasts at most this long, however often its refresh token is rotated. */
export const REFRESH_FAMILY_MAX_SECONDS = 30 * 24 * 60 * 60;
/**
 * A token rotated less than this long ago may be presented once more and gets the same successor (two
 * tabs refreshing at once, a response lost on the way) instead of counting as a stolen token's reuse.
 */
export const REFRESH_GRACE_SECONDS = 10;
/** How long a losing concurrent rotation waits for the winner's successor to appear. */
const GRACE_WAIT_MS = 2_000;

/**
 * The successor of a just-rotated token, kept in Redis for the grace period. Encrypted with a key
 * derived from the old token itself (domain-separated from the digest stored in the database), so
 * neither a Redis dump nor the database alone yields a usable refresh token.
 */
function graceBox(oldToken: string) {
  const key = createHash("sha256").update("gozon-refresh-grace\0").update(oldToken).digest();
  return {
    seal(value: { token: string; expiresAt: string }) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
    },
    open(sealed: string): { token: string; expiresAt: string } | undefined {
      try {
        const raw = Buffer.from(sealed, "base64");
        const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
        return JSON.parse(text) as { token: string; expiresAt: string };
      } catch {
        return undefined;
      }
    },
  };
}

/** How long a dead family is kept: a replay of one of its tokens still reads "revoked" or "expired". */
export const REFRESH_TOKEN_RETENTION_SECONDS = 7 * 24 * 60 * 60;

/** The first half of the two-key advisory locks this module takes ("gozo"); see `lockSessionsOf`. */
const SESSION_LOCK_SPACE = 0x676f7a6f;

/**
 * Serializes, for one user, a rotation with a revocation, until the transaction ends. Under READ
 * COMMITTED a revocation's UPDATE reads the family as it was when the statement began: a successor that
 * a concurrent rotation inserts and commits meanwhile is not in it, and would outlive the logout. With
 * both holding this lock, the revocation starts only once the rotation has committed (its successor is
 * then seen), or the rotation claims its token only after the revocation (and finds it revoked).
 */
const lockSessionsOf = (tx: Pick<IdentityClient, "$executeRaw">, userId: string) =>
  tx.$executeRaw`SELECT pg_advisory_xact_lock(${SESSION_LOCK_SPACE}::int4, hashtext(${userId}))`;

/** Opaque, rotating refresh tokens with reuse detection (one family per sign-in). */
export function createRefreshTokens(opts: {
  db: IdentityClient;
  ttlSeconds: number;
  now: () => Date;
  log: Logger;
  /**
   * Told after a revocation, so that the session's access tokens are refused and its open sockets close
   * (on every web instance): see session-revocations.ts.
   */
  onRevoked?: (revocation: SessionRevocation) => Promise<void>;
  /** Where just-rotated tokens' successors wait out the grace period (`<prefix>:rt-grace:*`). */
  grace: { redis: RedisClient; prefix: string };
  familyMaxSeconds?: number;
}): RefreshTokens {
  const { db, now, log } = opts;
  const familyMaxMs = (opts.familyMaxSeconds ?? REFRESH_FAMILY_MAX_SECONDS) * 1000;
  const expiry = (familyEnd?: number) =>
    new Date(Math.min(now().getTime() + opts.ttlSeconds * 1000, familyEnd ?? Infinity));
  const newToken = () => randomBytes(32).toString("base64url");
  const revoked = async (revocation: SessionRevocation) => {
    await opts
      .onRevoked?.(revocation)
      .catch((err: unknown) =>
        log.warn(
          { err, ...revocation },
          "could not announce a revoked session; other instances refuse its tokens from their next read of the list",
        ),
      );
  };

  const graceKey = (token: string) => `${opts.grace.prefix}:rt-grace:${digestToken(token)}`;

  /** When the family's sign-in happened: its first token (a live family is never purged in part). */
  const familyStart = async (familyId: string) => {
    const first = await db.refreshToken.findFirst({
      where: { familyId },
      orderBy: { createdAt: "asc" },
      select: { createdAt: true },
    });
    return first?.createdAt.getTime() ?? now().getTime();
  };

  /** The successor handed out for `token` within the grace period, if it is still unspent. */
  const graceSuccessor = async (token: string, waitMs: number) => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const sealed = await opts.grace.redis.get(graceKey(token)).catch(() => null);
      if (sealed) {
        const successor = graceBox(token).open(sealed);
        if (!successor) return undefined;
        const row = await db.refreshToken.findUnique({ where: { tokenHash: digestToken(successor.token) } });
        if (!row || row.usedAt || row.revokedAt) return undefined;
        return { token: successor.token, expiresAt: new Date(successor.expiresAt) };
      }
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const revokeFamily = async (userId: string, familyId: string) => {
    const revokedAt = now();
    const result = await db.$transaction(async (tx) => {
      await lockSessionsOf(tx, userId);
      return tx.refreshToken.updateMany({
        where: { userId, familyId, revokedAt: null },
        data: { revokedAt },
      });
    });
    // Only a family this call revoked: a logout repeated with an old token (anyone may post one) must not
    // tell every instance again, nor have each keep refusing the session's tokens for longer.
    if (result.count > 0) await revoked({ userId, sessionId: familyId, revokedAt: revokedAt.getTime() });
    return result;
  };

  return {
    ttlSeconds: opts.ttlSeconds,
    async issue(userId, familyId = randomUUID()) {
      const token = newToken();
      const expiresAt = expiry(now().getTime() + familyMaxMs);
      await db.refreshToken.create({
        data: { userId, familyId, tokenHash: digestToken(token), expiresAt, createdAt: now() },
      });
      return { token, expiresAt, familyId };
    },
    async rotate(token) {
      const row = await db.refreshToken.findUnique({
        where: { tokenHash: digestToken(token) },
        include: { user: true },
      });
      if (!row) return { ok: false, reason: "unknown" };
      if (row.revokedAt) return { ok: false, reason: "revoked" };
      const reused = async () => {
        const { count } = await revokeFamily(row.userId, row.familyId);
        log.warn(
          { userId: row.userId, familyId: row.familyId, revoked: count },
          "refresh token reused; family revoked",
        );
        return { ok: false, reason: "reused" } as const;
      };
      /** Within the grace period a spent token gets its successor again; otherwise it is a reuse. */
      const retried = async (waitMs: number) => {
        const spentMs = row.usedAt ? now().getTime() - row.usedAt.getTime() : 0;
        const successor =
          spentMs <= REFRESH_GRACE_SECONDS * 1000 ? await graceSuccessor(token, waitMs) : undefined;
        if (!successor) return reused();
        log.info({ userId: row.userId, familyId: row.familyId }, "refresh repeated within the grace period");
        return { ok: true, user: row.user, ...successor, familyId: row.familyId } as const;
      };
      if (row.usedAt) return retried(0);
      if (row.expiresAt.getTime() <= now().getTime()) return { ok: false, reason: "expired" };
      const familyEnd = (await familyStart(row.familyId)) + familyMaxMs;
      if (familyEnd <= now().getTime()) return { ok: false, reason: "expired" };

      const successor = newToken();
      const expiresAt = expiry(familyEnd);
      const rotated = await db.$transaction(async (tx) => {
        await lockSessionsOf(tx, row.userId);
        // Conditional: of two concurrent rotations of one token, exactly one claims it.
        const claimed = await tx.refreshToken.updateMany({
          where: { id: row.id, usedAt: null, revokedAt: null },
          data: { usedAt: now() },
        });
        if (claimed.count !== 1) {
          const latest = await tx.refreshToken.findUnique({
            where: { id: row.id },
            select: { revokedAt: true },
          });
          return latest?.revokedAt ? "revoked" : "spent";
        }
        await tx.refreshToken.create({
          data: {
            userId: row.userId,
            familyId: row.familyId,
            tokenHash: digestToken(successor),
            expiresAt,
            createdAt: now(),
          },
        });
        return "rotated";
      });
      // A logout (or a reuse elsewhere) revoked the family while this request was on its way.
      if (rotated === "revoked") return { ok: false, reason: "revoked" };
      // A concurrent rotation of the same token won: wait for its successor rather than call it theft.
      if (rotated === "spent") return retried(GRACE_WAIT_MS);
      await opts.grace.redis
        .set(
          graceKey(token),
          graceBox(token).seal({ token: successor, expiresAt: expiresAt.toISOString() }),
          "EX",
          REFRESH_GRACE_SECONDS,
        )
        .catch((err: unknown) => log.warn({ err }, "could not keep the rotated token for the grace period"));
      return { ok: true, user: row.user, token: successor, expiresAt, familyId: row.familyId };
    },
    async revokeFamilyOf(token) {
      const row = await db.refreshToken.findUnique({ where: { tokenHash: digestToken(token) } });
      if (row) await revokeFamily(row.userId, row.familyId);
    },
    async revokeSession(userId, sessionId) {
      await revokeFamily(userId, sessionId);
    },
    async revokeAllOf(userId) {
      const revokedAt = now();
      const tokens = await db.$transaction(async (tx) => {
        await lockSessionsOf(tx, userId);
        return tx.refreshToken.updateManyAndReturn({
          where: { userId, revokedAt: null },
          data: { revokedAt },
          select: { familyId: true },
        });
      });
      // Session by session, as a logout would: a sign-in after this is a new session, never refused.
      const families = new Set(tokens.map((token) => token.familyId));
      for (const familyId of families) {
        await revoked({ userId, sessionId: familyId, revokedAt: revokedAt.getTime() });
      }
    },
    async purge({ retentionSeconds = REFRESH_TOKEN_RETENTION_SECONDS, batchSize = 500 } = {}) {
      const cutoff = new Date(now().getTime() - retentionSeconds * 1000).toISOString();
      // Whole families only: reuse detection needs a spent token for as long as any token of its family
      // may still be rotated (a session renews itself indefinitely), and a family with no token alive
      // can never come back to life. A token ends at its expiry or revocation (LEAST skips a NULL).
      // Small batches, each its own statement: locks stay short, and SKIP LOCKED lets web instances
      // purge side by side without waiting for one another.
      return deleteInBatches(
        batchSize,
        () => db.$executeRaw`
          DELETE FROM refresh_tokens WHERE id IN (
            SELECT t.id FROM refresh_tokens t
            WHERE LEAST(t.expires_at, t.revoked_at) < ${cutoff}::timestamptz
              AND NOT EXISTS (
                SELECT 1 FROM refresh_tokens f
                WHERE f.family_id = t.family_id
                  AND LEAST(f.expires_at, f.revoked_at) >= ${cutoff}::timestamptz)
            LIMIT ${batchSize}
            FOR UPDATE SKIP LOCKED)`,
      );
    },
  };
}
