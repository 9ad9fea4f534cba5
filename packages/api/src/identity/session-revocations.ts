// Revoked sessions. A logout, a refresh-token family revoked for reuse or `revokeAllOf` must end the
// session's access tokens too, not just its refresh tokens: at once, on every web instance, and with no
// round trip per request. The record is the refresh tokens' own `revoked_at`, written by the revoking
// transaction itself, so no revocation can be lost between two stores, and the list is there whenever
// the identity database is (without which no one signs in anyway). Then
//   - every web process mirrors in memory the families revoked recently enough that one of their access
//     tokens may still live, and checks each access token against the mirror;
//   - the mirror is loaded at start, again every few seconds, and after each reconnect of the channel;
//   - each revocation is announced on a pub/sub channel, so that every instance learns it at once and
//     closes the session's sockets. The reads only make up for a message lost (Redis away, a cluster's
//     subscriber moving to another node, a publish that failed).
import type { ChannelSubscription } from "@gozon/core/infra/redis-channel";
import { followChannel } from "@gozon/core/infra/redis-channel";
import type { RedisClient, RedisTarget } from "@gozon/core/infra/redis-client";
import type { IdentityClient } from "@gozon/db/clients";
import { signedText, verifiedText, type MessageKey } from "@gozon/messaging/signing";
import { z } from "zod";
import type { Logger } from "@gozon/core/logger";

/** A refresh-token family (one sign-in) revoked at `revokedAt` (milliseconds since the epoch). */
export type SessionRevocation = { userId: string; sessionId: string; revokedAt: number };

export const sessionRevocationsChannel = (redisPrefix: string) => `${redisPrefix}:session-revoked`;

/**
 * How much longer than an access token a revocation is kept: the clocks of the instance that signed a
 * token and the one that revoked its session may differ by this much.
 */
export const CLOCK_SKEW_MS = 30_000;
/** How long a revocation whose message was lost may go unnoticed by an instance. */
export const RESYNC_MS = 10_000;

// An older version's messages are unsigned, so dropped: the next read of the list brings theirs.
const revocationSchema = z.object({
  userId: z.string().min(1),
  sessionId: z.string().min(1),
  revokedAt: z.number().int().positive(),
});

export type RevokedSessions = {
  /** Resolves once the channel is subscribed and the list loaded: until then a revoked token may pass. */
  ready: Promise<void>;
  /** The list has been loaded at least once (readiness). */
  readonly loaded: boolean;
  /** The token belongs to a revoked session: refuse it as if it had expired. No I/O. */
  refuses(sessionId: string): boolean;
  /** Called once the revocation is committed: refuses its tokens here at once and tells the others. */
  revoke(revocation: SessionRevocation): Promise<void>;
  /** Told of each revocation this process learns (its own, announced, or found loading the list). */
  onRevoked(listener: (revocation: SessionRevocation) => void): () => void;
  close(): Promise<void>;
};

export function createRevokedSessions(opts: {
  /** Where the revocations are read from (`refresh_tokens.revoked_at`). */
  db: IdentityClient;
  /** Where revocations are announced (a subscribed connection cannot publish). */
  redis: RedisClient;
  /** Where the channel's own subscriber connects. */
  target: RedisTarget;
  redisPrefix: string;
  /**
   * Announcements are signed under it and unsigned ones ignored: whoever can publish on Redis must not
   * sign a session out (MESSAGE_SIGNING_KEY).
   */
  signingKey: MessageKey;
  accessTokenTtlSeconds: number;
  now: () => Date;
  log: Logger;
  resyncMs?: number;
}): RevokedSessions {
  const { db, redis, redisPrefix, now, log } = opts;
  const keepMs = opts.accessTokenTtlSeconds * 1000 + CLOCK_SKEW_MS;
  /** Revoked session id → until when its tokens may live. */
  const sessions = new Map<string, number>();
  const listeners = new Set<(revocation: SessionRevocation) => void>();
  let loaded = false;
  let closed = false;

  const forgetExpired = (at: number) => {
    for (const [id, until] of sessions) if (until <= at) sessions.delete(id);
  };

  /** Adds a revocation to the mirror; its listeners hear only what is new here. */
  const apply = (revocation: SessionRevocation) => {
    const until = revocation.revokedAt + keepMs;
    if (until <= now().getTime()) return;
    const known = sessions.get(revocation.sessionId);
    sessions.set(revocation.sessionId, Math.max(known ?? 0, until));
    if (known !== undefined) return;
    for (const listener of listeners) listener(revocation);
  };

  let loading: Promise<void> | undefined;
  let loadAgain = false;
  /** Reads the recent revocations into the mirror (additions only: what the channel brought stays). */
  const load = async () => {
    const at = now().getTime();
    const families = await db.refreshToken.groupBy({
      by: ["familyId", "userId"],
      where: { revokedAt: { gt: new Date(at - keepMs) } },
      _max: { revokedAt: true },
    });
    for (const { familyId, userId, _max } of families) {
      if (_max.revokedAt) apply({ userId, sessionId: familyId, revokedAt: _max.revokedAt.getTime() });
    }
    forgetExpired(at);
    loaded = true;
  };
  /** One load at a time; a call during a load makes it load once more (it may have missed a message). */
  const reload = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (loading) {
      loadAgain = true;
      return loading;
    }
    loading = (async () => {
      do {
        loadAgain = false;
        await load();
      } while (loadAgain && !closed);
    })().finally(() => (loading = undefined));
    return loading;
  };
  const reloadLogged = () =>
    void reload().catch((err: unknown) =>
      log.warn({ err }, "could not read the revoked sessions; will try again"),
    );

  const channel: ChannelSubscription = followChannel(opts.target, {
    channel: sessionRevocationsChannel(redisPrefix),
    name: `${redisPrefix}:web-session-revocations`,
    log,
    parse: (raw) => {
      const parsed = revocationSchema.safeParse(verifiedText(opts.signingKey, raw));
      return parsed.success ? parsed.data : null;
    },
    onMessage: apply,
    // Subscribed again after a reconnect: what was published meanwhile is in the database.
    onReconnect: reloadLogged,
  });

  const ready = (async () => {
    await channel.ready;
    // Subscribed first, then read: a revocation is committed before it is published, so each one is
    // either in what the load reads or in a message that arrives after it.
    for (let attempt = 1; ; attempt++) {
      try {
        return await reload();
      } catch (err) {
        if (closed) throw err;
        log.warn({ err, attempt }, "cannot read the revoked sessions yet; retrying");
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 5_000)));
      }
    }
  })();
  ready.catch((err: unknown) => log.error({ err }, "revoked sessions: could not start"));
  // Read at once, whatever the channel does: an instance that cannot reach Redis still learns what is
  // revoked, from this read and every resync.
  reloadLogged();
  const resync = setInterval(() => {
    forgetExpired(now().getTime());
    reloadLogged();
  }, opts.resyncMs ?? RESYNC_MS);
  resync.unref();

  return {
    ready,
    get loaded() {
      return loaded;
    },
    refuses(sessionId) {
      const until = sessions.get(sessionId);
      return until !== undefined && until > now().getTime();
    },
    async revoke(revocation) {
      apply(revocation);
      // If this fails, the other instances find the revocation at their next read of the list.
      await redis.publish(sessionRevocationsChannel(redisPrefix), signedText(opts.signingKey, revocation));
    },
    onRevoked(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      clearInterval(resync);
      listeners.clear();
      channel.close();
    },
  };
}
