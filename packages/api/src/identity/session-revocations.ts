// Revoked sessions. A logout, a refresh-token family revoked for reuse or `revokeAllOf` must end the
// session's access tokens too, not just its refresh tokens: at once, on every web instance, and with no
// Redis round trip per request. So each revocation is
//   - remembered in Redis, for as long as one of its access tokens can live: one sorted set (one key, so
//     one slot in a cluster), scored by when the entry may be forgotten;
//   - announced on a pub/sub channel, so that every instance learns it at once and closes the sockets of
//     the session;
//   - mirrored in memory by every web process, which checks each access token against the mirror. The
//     mirror is loaded from the set at start, again once the channel is subscribed (and after every
//     reconnect, when what was published meanwhile is lost), then kept up by the channel, and read again
//     now and then in case a message went missing anyway (a cluster's subscriber moving to another node).
import type { ChannelSubscription } from "@gozon/core/infra/redis-channel";
import { followChannel } from "@gozon/core/infra/redis-channel";
import type { RedisClient, RedisTarget } from "@gozon/core/infra/redis-client";
import { z } from "zod";
import type { Logger } from "@gozon/core/logger";
import type { SessionRevocation } from "./tokens.ts";

export type { SessionRevocation };

export const sessionRevocationsChannel = (redisPrefix: string) => `${redisPrefix}:session-revoked`;
export const revokedSessionsKey = (redisPrefix: string) => `${redisPrefix}:revoked-sessions`;

/**
 * How much longer than an access token an entry is kept: the clocks of the instance that signed a token
 * and the one that revoked its session may differ by this much.
 */
export const CLOCK_SKEW_MS = 30_000;
/** The set is read again this often, in case a message was lost without a reconnect to say so. */
const RESYNC_MS = 30_000;

// `revokedAt` is optional for the messages of an older version during a rolling deploy (then: now).
const revocationSchema = z.object({
  userId: z.string().min(1),
  sessionId: z.string().min(1).nullable(),
  revokedAt: z.number().int().positive().optional(),
});

/** An access token as far as revocation goes: whose, which session, when issued. */
export type TokenSession = { userId: string; sessionId: string | null; issuedAt: Date };

export type RevokedSessions = {
  /** Resolves once the channel is subscribed and the set loaded: until then a revoked token may pass. */
  ready: Promise<void>;
  /** The set has been loaded at least once (readiness). */
  readonly loaded: boolean;
  /** The token belongs to a revoked session: refuse it as if it had expired. No I/O. */
  refuses(token: TokenSession): boolean;
  /** Revokes here at once, then remembers the revocation in Redis and announces it to the others. */
  revoke(revocation: SessionRevocation): Promise<void>;
  /** Told of each revocation this process learns (its own, announced, or found loading the set). */
  onRevoked(listener: (revocation: SessionRevocation) => void): () => void;
  close(): Promise<void>;
};

const memberOf = ({ userId, sessionId, revokedAt }: SessionRevocation) =>
  sessionId === null ? `user:${revokedAt}:${userId}` : `sid:${userId}:${sessionId}`;

function parseMember(member: string): SessionRevocation | null {
  const [kind, first, ...rest] = member.split(":");
  const tail = rest.join(":");
  if (!first || !tail) return null;
  if (kind === "sid") return { userId: first, sessionId: tail, revokedAt: 0 };
  const revokedAt = Number(first);
  if (kind === "user" && Number.isSafeInteger(revokedAt)) return { userId: tail, sessionId: null, revokedAt };
  return null;
}

export function createRevokedSessions(opts: {
  /** Where the set is written and read (a subscribed connection can do neither). */
  redis: RedisClient;
  /** Where the channel's own subscriber connects. */
  target: RedisTarget;
  redisPrefix: string;
  accessTokenTtlSeconds: number;
  now: () => Date;
  log: Logger;
}): RevokedSessions {
  const { redis, redisPrefix, now, log } = opts;
  const key = revokedSessionsKey(redisPrefix);
  const keepMs = opts.accessTokenTtlSeconds * 1000 + CLOCK_SKEW_MS;
  /** Revoked session id → until when its tokens may live. */
  const sessions = new Map<string, number>();
  /** User → their latest revocation of every session, and until when tokens from before it may live. */
  const users = new Map<string, { revokedAt: number; until: number }>();
  const listeners = new Set<(revocation: SessionRevocation) => void>();
  let loaded = false;
  let closed = false;

  const forgetExpired = (at: number) => {
    for (const [id, until] of sessions) if (until <= at) sessions.delete(id);
    for (const [id, entry] of users) if (entry.until <= at) users.delete(id);
  };

  /** Adds a revocation to the mirror; its listeners hear only what is new here. */
  const apply = (revocation: SessionRevocation, until: number) => {
    if (until <= now().getTime()) return;
    const { userId, sessionId, revokedAt } = revocation;
    if (sessionId !== null) {
      const known = sessions.get(sessionId);
      sessions.set(sessionId, Math.max(known ?? 0, until));
      if (known !== undefined) return;
    } else {
      const known = users.get(userId);
      if (known && known.revokedAt >= revokedAt) return;
      users.set(userId, { revokedAt, until });
    }
    for (const listener of listeners) listener(revocation);
  };

  let loading: Promise<void> | undefined;
  let loadAgain = false;
  /** Reads the set into the mirror (additions only: what the channel brought meanwhile stays). */
  const load = async () => {
    const at = now().getTime();
    const entries = await redis.zrangebyscore(key, `(${at}`, "+inf", "WITHSCORES");
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const revocation = parseMember(entries[i] as string);
      if (revocation) apply(revocation, Number(entries[i + 1]));
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
      try {
        const parsed = revocationSchema.safeParse(JSON.parse(raw));
        return parsed.success ? parsed.data : null;
      } catch {
        return null;
      }
    },
    onMessage: ({ userId, sessionId, revokedAt = now().getTime() }) =>
      apply({ userId, sessionId, revokedAt }, revokedAt + keepMs),
    // Subscribed again after a reconnect: what was published meanwhile is in the set.
    onReconnect: reloadLogged,
  });

  const ready = (async () => {
    await channel.ready;
    // Subscribed first, then read: a revocation is written before it is published, so each one is
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
  // Read at once over the main connection as well: an instance whose subscriber cannot connect (Redis at
  // maxclients, say) still learns what is revoked, from this read and every resync.
  reloadLogged();
  const resync = setInterval(() => {
    forgetExpired(now().getTime());
    reloadLogged();
  }, RESYNC_MS);
  resync.unref();

  return {
    ready,
    get loaded() {
      return loaded;
    },
    refuses({ userId, sessionId, issuedAt }) {
      const at = now().getTime();
      if (sessionId !== null) {
        const until = sessions.get(sessionId);
        if (until !== undefined && until > at) return true;
      }
      const user = users.get(userId);
      return user !== undefined && user.until > at && issuedAt.getTime() <= user.revokedAt;
    },
    async revoke(revocation) {
      const until = revocation.revokedAt + keepMs;
      apply(revocation, until);
      // If this write fails, instances running now still learn the revocation from the message below,
      // but one that starts or reconnects before `until` does not: there the session's access tokens keep
      // working until they expire (10 minutes at most), as they all did before this list existed.
      const at = now().getTime();
      await redis
        .multi()
        .zadd(key, until, memberOf(revocation))
        .zremrangebyscore(key, "-inf", at)
        .pexpire(key, keepMs)
        .exec()
        .then((results) => {
          const failed = results?.find(([err]) => err)?.[0];
          if (!results || failed) throw failed ?? new Error("transaction discarded");
        })
        .catch((err: unknown) =>
          log.warn(
            { err, userId: revocation.userId, sessionId: revocation.sessionId },
            "could not remember a revoked session; an instance starting before its tokens expire accepts them",
          ),
        );
      await redis.publish(sessionRevocationsChannel(redisPrefix), JSON.stringify(revocation));
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
