// A followed channel against the real Redis: garbage published on it is ignored without flooding the log.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, expect, it } from "vitest";
import { capturingLogger, waitFor } from "@gozon/core/testing";
import { followChannel } from "../src/infra/redis-channel.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const publisher = new Redis(REDIS_URL);
afterAll(() => publisher.disconnect());

it("ignores a flood of malformed messages with one log line, and still delivers the real ones", async () => {
  const channel = `channel-test:${randomUUID()}`;
  const { log, lines } = capturingLogger();
  const received: string[] = [];
  const subscription = followChannel(
    { REDIS_URL },
    {
      channel,
      name: "channel-test",
      log,
      parse: (raw) => (raw.startsWith("ok:") ? raw : null),
      onMessage: (message) => received.push(message),
    },
  );
  try {
    await subscription.ready;
    const pipeline = publisher.pipeline();
    for (let i = 0; i < 500; i++) pipeline.publish(channel, `garbage ${i}`);
    pipeline.publish(channel, "ok:after the flood");
    await pipeline.exec();
    await waitFor(() => received.length === 1 || undefined, { what: "the real message" });
    expect(received).toEqual(["ok:after the flood"]);
    const ignored = lines.filter((line) => /malformed/.test(String(line.msg)));
    expect(ignored).toHaveLength(1);
    expect(ignored[0]).toMatchObject({ channel, ignored: 1 });
  } finally {
    subscription.close();
  }
});

it("reports the rest of a burst once its interval is over, though nothing arrives after it", async () => {
  const channel = `channel-test:${randomUUID()}`;
  const { log, lines } = capturingLogger();
  const subscription = followChannel(
    { REDIS_URL },
    { channel, name: "channel-test", log, parse: () => null, onMessage: () => {}, ignoredLogIntervalMs: 300 },
  );
  try {
    await subscription.ready;
    const pipeline = publisher.pipeline();
    for (let i = 0; i < 100; i++) pipeline.publish(channel, `garbage ${i}`);
    await pipeline.exec();
    const ignored = () => lines.filter((line) => /malformed/.test(String(line.msg)));
    await waitFor(() => ignored().length === 2 || undefined, { what: "the burst's tail reported" });
    expect(ignored()).toEqual([
      expect.objectContaining({ channel, ignored: 1 }),
      expect.objectContaining({ channel, ignored: 99 }),
    ]);
  } finally {
    subscription.close();
  }
});
