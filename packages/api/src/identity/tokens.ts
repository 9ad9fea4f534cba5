import { createHash, randomBytes, randomUUID } from "node:crypto";
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import type { Logger } from "@gozon/core/logger";
import { deleteInBatches } from "@gozon/db/batches";
import type { IdentityClient } from "@gozon/db/clients";
import type { Role, User } from "./users.ts";

const ISSUER = "gozon";
const AUDIENCE = "gozon-api";
const ROLES: readonly Role[] = ["SHOPPER", "ADMIN"];

/** Who a valid access token speaks for. */
export type Caller = { id: string; role: Role };

export type AccessTokenCheck =
  | { ok: true; caller: Caller; expiresAt: Date; sessionId: string | null }
  | { ok: false; reason: "expired" | "invalid" };

export type AccessTokens = {
  ttlSeconds: number;
  /** `sessionId` (the `sid` claim) is the refresh-token family: revoking it ends the session's sockets. */
  sign(user: Pick<User, "id" | "role">, sessionId?: string): Promise<{ token: string; expiresAt: Date }>;
  verify(token: string): Promise<AccessTokenCheck>;
};

/** Short-lived HS256 JWTs: `sub` is the user id, `role` the role at sign-in. */
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
  return {
    ttlSeconds: opts.ttlSeconds,
    async sign(user, sessionId) {
      const issuedAt = Math.floor(opts.now().getTime() / 1000);
      const expiresAt = issuedAt + opts.ttlSeconds;
      const token = await new SignJWT({ role: user.role, ...(sessionId ? { sid: sessionId } : {}) })
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
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
          currentDate: opts.now(),
          requiredClaims: ["sub", "exp", "iat"],
        });
        const role = payload.role as Role;
        if (typeof payload.sub !== "string" || !ROLES.includes(role)) return { ok: false, reason: "invalid" };
        return {
          ok: true,
          caller: { id: payload.sub, role },
          expiresAt: new Date((payload.exp ?? 0) * 1000),
          sessionId: typeof payload.sid === "string" ? payload.sid : null,
        };
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
  /** Revokes every live token of a user (password change). */
  revokeAllOf(userId: string): Promise<void>;
  /** Deletes the tokens of families dead for longer than the retention; resolves to how many. */
  purge(opts?: { retentionSeconds?: number; batchSize?: number }): Promise<number>;
};

/** How long a dead family is kept: a replay of one of its tokens still reads "revoked" or "expired". */
export const REFRESH_TOKEN_RETENTION_SECONDS = 7 * 24 * 60 * 60;

/** A revoked session: one refresh-token family, or (`sessionId: null`) every session of the user. */
export type SessionRevocation = { userId: string; sessionId: string | null };

/** Opaque, rotating refresh tokens with reuse detection (one family per sign-in). */
export function createRefreshTokens(opts: {
  db: IdentityClient;
  ttlSeconds: number;
  now: () => Date;
  log: Logger;
  /** Told after a revocation, so that the session's open sockets close too (on every web instance). */
  onRevoked?: (revocation: SessionRevocation) => Promise<void>;
}): RefreshTokens {
  const { db, now, log } = opts;
  const expiry = () => new Date(now().getTime() + opts.ttlSeconds * 1000);
  const newToken = () => randomBytes(32).toString("base64url");
  const revoked = async (revocation: SessionRevocation) => {
    await opts
      .onRevoked?.(revocation)
      .catch((err: unknown) =>
        log.warn(
          { err, ...revocation },
          "could not announce a revoked session; its sockets end at token expiry",
        ),
      );
  };

  const revokeFamily = async (userId: string, familyId: string) => {
    const result = await db.refreshToken.updateMany({
      where: { familyId, revokedAt: null },
      data: { revokedAt: now() },
    });
    await revoked({ userId, sessionId: familyId });
    return result;
  };

  return {
    ttlSeconds: opts.ttlSeconds,
    async issue(userId, familyId = randomUUID()) {
      const token = newToken();
      const expiresAt = expiry();
      await db.refreshToken.create({ data: { userId, familyId, tokenHash: digestToken(token), expiresAt } });
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
      if (row.usedAt) return reused();
      if (row.expiresAt.getTime() <= now().getTime()) return { ok: false, reason: "expired" };

      const successor = newToken();
      const expiresAt = expiry();
      const rotated = await db.$transaction(async (tx) => {
        // Conditional: of two concurrent rotations of one token, exactly one claims it.
        const claimed = await tx.refreshToken.updateMany({
          where: { id: row.id, usedAt: null, revokedAt: null },
          data: { usedAt: now() },
        });
        if (claimed.count !== 1) return false;
        await tx.refreshToken.create({
          data: { userId: row.userId, familyId: row.familyId, tokenHash: digestToken(successor), expiresAt },
        });
        return true;
      });
      if (!rotated) return reused();
      return { ok: true, user: row.user, token: successor, expiresAt, familyId: row.familyId };
    },
    async revokeFamilyOf(token) {
      const row = await db.refreshToken.findUnique({ where: { tokenHash: digestToken(token) } });
      if (row) await revokeFamily(row.userId, row.familyId);
    },
    async revokeAllOf(userId) {
      await db.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now() } });
      await revoked({ userId, sessionId: null });
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
