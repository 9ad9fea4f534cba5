import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestToken } from "../src/identity/tokens.ts";
import { startApi, uniqueEmail, type ApiHarness } from "./harness.ts";

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({ label: "api_token_purge" });
});
afterAll(async () => {
  await api?.close();
});

const DAY = 24 * 60 * 60 * 1000;

/** A stored refresh token whose times are given in days from now (negative: in the past). */
async function token(
  userId: string,
  familyId: string,
  days: { expires: number; used?: number; revoked?: number },
) {
  const raw = randomBytes(32).toString("base64url");
  const at = (offset: number | undefined) =>
    offset === undefined ? null : new Date(api.deps.now().getTime() + offset * DAY);
  const row = await api.db.refreshToken.create({
    data: {
      userId,
      familyId,
      tokenHash: digestToken(raw),
      expiresAt: at(days.expires)!,
      usedAt: at(days.used),
      revokedAt: at(days.revoked),
    },
  });
  return { id: row.id, raw };
}

const newUser = () => api.db.user.create({ data: { email: uniqueEmail("purge"), passwordHash: "x" } });

describe("refresh token purge", () => {
  it("deletes families dead for over 7 days, in batches, and keeps what reuse detection needs", async () => {
    const { id: userId } = await newUser();
    const family = () => randomUUID();
    const oldExpired = await token(userId, family(), { expires: -8 });
    const oldRevoked = await token(userId, family(), { expires: -2, revoked: -8 });
    const recentlyRevoked = await token(userId, family(), { expires: 5, revoked: -1 });
    const recentlyExpired = await token(userId, family(), { expires: -1 });
    const live = await token(userId, family(), { expires: 7 });
    // A long session: its first token was spent and expired long ago, its current one is live.
    const session = family();
    const spentLongAgo = await token(userId, session, { expires: -8, used: -9 });
    const current = await token(userId, session, { expires: 6 });
    // A session that ended long ago: spent, then its successor revoked at logout.
    const ended = family();
    const endedSpent = await token(userId, ended, { expires: -12, used: -13 });
    const endedRevoked = await token(userId, ended, { expires: -5, revoked: -9 });

    expect(await api.deps.refreshTokens.purge({ batchSize: 2 })).toBe(4);

    const left = await api.db.refreshToken.findMany({ where: { userId }, select: { id: true } });
    expect(left.map((row) => row.id).sort()).toEqual(
      [recentlyRevoked, recentlyExpired, live, spentLongAgo, current].map((t) => t.id).sort(),
    );
    for (const gone of [oldExpired, oldRevoked, endedSpent, endedRevoked]) {
      expect(left.map((row) => row.id)).not.toContain(gone.id);
    }
    expect(await api.deps.refreshTokens.purge()).toBe(0);

    // Replaying the long-spent token of the live session is still caught, and ends the session.
    expect(await api.deps.refreshTokens.rotate(spentLongAgo.raw)).toEqual({ ok: false, reason: "reused" });
    expect(await api.deps.refreshTokens.rotate(current.raw)).toEqual({ ok: false, reason: "revoked" });
  });

  it("concurrent purges (several web instances) share the work without deleting a row twice", async () => {
    const { id: userId } = await newUser();
    for (let n = 0; n < 40; n++) await token(userId, randomUUID(), { expires: -10 });
    const [a, b] = await Promise.all([
      api.deps.refreshTokens.purge({ batchSize: 3 }),
      api.deps.refreshTokens.purge({ batchSize: 3 }),
    ]);
    expect(a + b).toBe(40);
    expect(await api.db.refreshToken.count({ where: { userId } })).toBe(0);
  });
});
