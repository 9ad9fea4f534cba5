// LISTEN on a Postgres channel through a dedicated `pg` connection (Prisma cannot LISTEN), reconnecting
// with backoff whenever the connection drops (Postgres restarted, backend terminated, network blip).
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Logger } from "@gozon/core/logger";

export type PgListener = {
  /** True while a connection is up and LISTENing. */
  readonly listening: boolean;
  stop: () => Promise<void>;
};

/**
 * Calls `onNotify` for every notification on `channel`, and once after each (re)connect: notifications
 * sent while no connection was listening are lost, so the caller must assume it missed some.
 */
export function listen({
  url,
  channel,
  onNotify,
  log,
}: {
  url: string;
  channel: string;
  onNotify: () => void;
  log: Logger;
}): PgListener {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  const stopping = new AbortController();
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;

  const connect = async () => {
    for (let attempt = 1; !stopping.signal.aborted; attempt++) {
      const candidate = new pg.Client({
        connectionString: url,
        application_name: `gozon-listen-${channel}`,
        connectionTimeoutMillis: 5_000,
        keepAlive: true, // notice a half-open connection instead of waiting on it for ever
      });
      const lost = (err?: Error) => {
        if (client !== candidate) return; // an error followed by an end: reconnect once
        client = undefined;
        candidate.end().catch(() => {});
        if (stopping.signal.aborted) return;
        log.warn({ err, channel }, "listen connection lost; reconnecting");
        connecting = connect();
      };
      candidate.on("error", lost);
      candidate.on("end", () => lost());
      candidate.on("notification", () => onNotify());
      try {
        await candidate.connect();
        await candidate.query(`LISTEN ${channel}`);
        if (stopping.signal.aborted) {
          await candidate.end();
          return;
        }
        client = candidate;
        if (attempt > 1) log.info({ channel, attempt }, "listen connection restored");
        onNotify();
        return;
      } catch (err) {
        candidate.end().catch(() => {});
        const delay = Math.min(100 * 2 ** (attempt - 1), 10_000);
        if (attempt === 1 || attempt % 10 === 0)
          log.warn({ err, channel, attempt, delay }, "cannot LISTEN yet");
        await sleep(delay, undefined, { signal: stopping.signal }).catch(() => {});
      }
    }
  };
  connecting = connect();

  return {
    get listening() {
      return client !== undefined;
    },
    stop: async () => {
      stopping.abort();
      await connecting;
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}
