// Where an order's time goes: per-hop times from the timestamps each part of the saga records anyway —
// the services' tables (Postgres, 1 ms resolution; relays and processors stamp with now(), i.e. when their
// transaction began), the BullMQ job hashes (added at / picked up at, the clients' clocks) — lined up with
// the bench's own clock for the event. Everything runs on one machine, so it is one clock.
import type { RedisClient } from "@gozon/core/infra/redis-client";
import pg from "pg";
import type { ServiceDatabaseUrls } from "@gozon/core/config";
import { QUEUES } from "@gozon/messaging/queues";
import type { OrderSample } from "./saga.ts";
import { summarize, type Summary } from "./stats.ts";

export const HOPS = [
  {
    key: "createToQueued",
    label: "create tx → request queued",
    detail:
      "orders.created_at → BullMQ job timestamp: the create transaction (order, change-log row, outbox row), " +
      "commit, then the web adds the request itself (the orders relay only if that fails)",
  },
  {
    key: "requestQueue",
    label: "request queued → picked up",
    detail: "→ job processedOn: waiting in payments.requests until a payments-worker slot takes it",
  },
  {
    key: "pickedToTx",
    label: "picked up → payment statement begins",
    detail:
      "→ payment_decisions.decided_at (= inbox received_at, the same transaction): validate the message, " +
      "wait for the group before it to commit, then receive_payments begins",
  },
  {
    key: "paymentToQueued",
    label: "payment tx → result queued",
    detail:
      "→ BullMQ job timestamp of the result: receive_payments stores the inbox entries, locks orders, " +
      "entries and accounts, debits, writes ledger, decision and outbox, and commits (one statement per " +
      "group), then the payments worker adds the results itself",
  },
  {
    key: "resultQueue",
    label: "result queued → picked up",
    detail: "→ job processedOn: waiting in orders.payment-results until an orders-worker slot takes it",
  },
  {
    key: "settle",
    label: "picked up → order settled",
    detail: "→ orders.updated_at: validate, wait for the settle group, its one statement begins",
  },
  {
    key: "announce",
    label: "settled → event at the client",
    detail:
      "→ event received: the settle's commit (its change is stamped in the same statement), Redis " +
      "publish, web fan-out, tRPC over WebSocket",
  },
] as const;

export type HopKey = (typeof HOPS)[number]["key"];

export type HopProfile = {
  orders: number;
  hops: Record<HopKey, Summary>;
  /** orders.created_at → event received: the sum of the hops. */
  total: Summary;
  /** orders.created_at → create response at the client (overlaps the first hops). */
  createToResponse: Summary;
  /**
   * The slowest 1% by settle time at the client (what p99 is made of): when in the run they were placed,
   * and their mean per hop beside every order's. Clustered in a second or two, they point at one event
   * (a pause, a stall); spread over the run, at the load itself. Older results lack it.
   */
  slowest?: {
    orders: number;
    /** Seconds from the run's first order to the first and the last of them. */
    placedFromSeconds: number;
    placedToSeconds: number;
    /** In how many distinct whole seconds of the run they were placed. */
    placedInSeconds: number;
    meanMs: Record<HopKey, number>;
    allMeanMs: Record<HopKey, number>;
  };
};

/** Epoch milliseconds at each step of one order. */
type Stamps = Record<
  "created" | "requestAdded" | "requestPicked" | "decided" | "resultAdded" | "resultPicked" | "settled",
  number
>;

const epochMs = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

async function rows<T>(url: string, sql: string, params: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** BullMQ's `timestamp` (added) and `processedOn` (picked up) of each job, in one pipeline per batch. */
async function jobTimes(redis: RedisClient, bullPrefix: string, queue: string, jobIds: string[]) {
  const times = new Map<string, { added: number; picked: number }>();
  for (let i = 0; i < jobIds.length; i += 1_000) {
    const batch = jobIds.slice(i, i + 1_000);
    const pipeline = redis.pipeline();
    for (const id of batch) pipeline.hmget(`${bullPrefix}:${queue}:${id}`, "timestamp", "processedOn");
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([error, value], j) => {
      const [added, picked] = (value ?? []) as Array<string | null>;
      if (!error && added && picked)
        times.set(batch[j] as string, { added: Number(added), picked: Number(picked) });
    });
  }
  return times;
}

/** Every step's time for the settled orders among `orderIds` (orders lacking a step are left out). */
export async function readStamps(
  urls: ServiceDatabaseUrls,
  redis: RedisClient,
  bullPrefix: string,
  orderIds: string[],
): Promise<Map<string, Stamps>> {
  const [orders, payments] = await Promise.all([
    rows<{ id: string; created: number; settled: number; message: string }>(
      urls.orders,
      // The first request sent for each order (the reconciler may have sent another later).
      `WITH requests AS (
         SELECT DISTINCT ON ((payload -> 'payload' ->> 'orderId')::uuid)
                (payload -> 'payload' ->> 'orderId')::uuid AS id, id::text AS message, sent_at
         FROM outbox WHERE type = 'PaymentRequested' AND sent_at IS NOT NULL
         ORDER BY (payload -> 'payload' ->> 'orderId')::uuid, sent_at)
       SELECT o.id::text AS id, r.message, ${epochMs("o.created_at")} AS created,
              ${epochMs("o.updated_at")} AS settled
       FROM orders o JOIN requests r USING (id)
       WHERE o.id = ANY($1::uuid[]) AND o.status <> 'NEW'`,
      [orderIds],
    ),
    rows<{ id: string; decided: number; message: string }>(
      urls.payments,
      `WITH results AS (
         SELECT DISTINCT ON ((payload -> 'payload' ->> 'orderId')::uuid)
                (payload -> 'payload' ->> 'orderId')::uuid AS order_id, id::text AS message, sent_at
         FROM outbox WHERE sent_at IS NOT NULL
         ORDER BY (payload -> 'payload' ->> 'orderId')::uuid, sent_at)
       SELECT d.order_id::text AS id, ${epochMs("d.decided_at")} AS decided, results.message
       FROM payment_decisions d JOIN results USING (order_id)
       WHERE d.order_id = ANY($1::uuid[])`,
      [orderIds],
    ),
  ]);
  const [requestJobs, resultJobs] = await Promise.all([
    jobTimes(
      redis,
      bullPrefix,
      QUEUES.paymentRequests,
      orders.map((o) => o.message),
    ),
    jobTimes(
      redis,
      bullPrefix,
      QUEUES.paymentResults,
      payments.map((p) => p.message),
    ),
  ]);
  const byPayments = new Map(payments.map((row) => [row.id, row]));
  const stamps = new Map<string, Stamps>();
  for (const order of orders) {
    const payment = byPayments.get(order.id);
    const request = requestJobs.get(order.message);
    const result = payment && resultJobs.get(payment.message);
    if (!payment || !request || !result) continue;
    stamps.set(order.id, {
      created: order.created,
      requestAdded: request.added,
      requestPicked: request.picked,
      decided: payment.decided,
      resultAdded: result.added,
      resultPicked: result.picked,
      settled: order.settled,
    });
  }
  return stamps;
}

export function hopProfile(samples: OrderSample[], stamps: Map<string, Stamps>): HopProfile {
  const total: number[] = [];
  const createToResponse: number[] = [];
  const profiled: Array<{ sample: OrderSample; hops: Record<HopKey, number> }> = [];
  for (const sample of samples) {
    const s = stamps.get(sample.orderId);
    if (!s || sample.settledEpoch === null || sample.settledAt === null) continue;
    const times: Record<HopKey, number> = {
      createToQueued: s.requestAdded - s.created,
      requestQueue: s.requestPicked - s.requestAdded,
      pickedToTx: s.decided - s.requestPicked,
      paymentToQueued: s.resultAdded - s.decided,
      resultQueue: s.resultPicked - s.resultAdded,
      settle: s.settled - s.resultPicked,
      announce: sample.settledEpoch - s.settled,
    };
    profiled.push({ sample, hops: times });
    total.push(sample.settledEpoch - s.created);
    createToResponse.push(sample.createRespondedEpoch - s.created);
  }
  const orders = profiled.length;
  return {
    orders,
    hops: Object.fromEntries(
      HOPS.map((hop) => [hop.key, summarize(profiled.map((row) => row.hops[hop.key]))]),
    ) as Record<HopKey, Summary>,
    total: summarize(total),
    createToResponse: summarize(createToResponse),
    ...(orders > 0 ? { slowest: slowestOnePercent(profiled) } : {}),
  };
}

function slowestOnePercent(profiled: Array<{ sample: OrderSample; hops: Record<HopKey, number> }>) {
  const settle = ({ sample }: { sample: OrderSample }) =>
    (sample.settledAt as number) - sample.createRespondedAt;
  const slowest = [...profiled]
    .sort((a, b) => settle(b) - settle(a))
    .slice(0, Math.ceil(profiled.length / 100));
  const start = Math.min(...profiled.map(({ sample }) => sample.createStartedAt));
  const placed = slowest.map(({ sample }) => (sample.createStartedAt - start) / 1000);
  const mean = (rows: typeof profiled) =>
    Object.fromEntries(
      HOPS.map((hop) => [hop.key, rows.reduce((sum, row) => sum + row.hops[hop.key], 0) / rows.length]),
    ) as Record<HopKey, number>;
  return {
    orders: slowest.length,
    placedFromSeconds: Math.min(...placed),
    placedToSeconds: Math.max(...placed),
    placedInSeconds: new Set(placed.map(Math.floor)).size,
    meanMs: mean(slowest),
    allMeanMs: mean(profiled),
  };
}
