// Where an order's time goes: per-hop times from the timestamps each part of the saga records anyway —
// the services' tables (Postgres, 1 ms resolution; relays and processors stamp with now(), i.e. when their
// transaction began), the BullMQ job hashes (added at / picked up at, the clients' clocks) — lined up with
// the bench's own clock for the event. Everything runs on one machine, so it is one clock.
import type { Redis } from "ioredis";
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
    key: "inboxStore",
    label: "picked up → inbox stored",
    detail: "→ payments inbox received_at: validate the message, insert into the inbox",
  },
  {
    key: "inboxToTx",
    label: "inbox stored → payment tx begins",
    detail: "→ payment_decisions.decided_at (the processing transaction's start)",
  },
  {
    key: "paymentToQueued",
    label: "payment tx → result queued",
    detail:
      "→ BullMQ job timestamp of the result: lock entries and accounts, debit, ledger, decision, outbox, " +
      "commit (one transaction per group), then the payments worker adds the results itself",
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
};

/** Epoch milliseconds at each step of one order. */
type Stamps = Record<
  | "created"
  | "requestAdded"
  | "requestPicked"
  | "received"
  | "decided"
  | "resultAdded"
  | "resultPicked"
  | "settled",
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
async function jobTimes(redis: Redis, bullPrefix: string, queue: string, jobIds: string[]) {
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
  redis: Redis,
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
    rows<{ id: string; received: number; decided: number; message: string }>(
      urls.payments,
      `WITH received AS (
         SELECT (payload -> 'payload' ->> 'orderId')::uuid AS order_id, min(received_at) AS at
         FROM inbox GROUP BY 1),
       results AS (
         SELECT DISTINCT ON ((payload -> 'payload' ->> 'orderId')::uuid)
                (payload -> 'payload' ->> 'orderId')::uuid AS order_id, id::text AS message, sent_at
         FROM outbox WHERE sent_at IS NOT NULL
         ORDER BY (payload -> 'payload' ->> 'orderId')::uuid, sent_at)
       SELECT d.order_id::text AS id, ${epochMs("d.decided_at")} AS decided,
              ${epochMs("received.at")} AS received, results.message
       FROM payment_decisions d JOIN received USING (order_id) JOIN results USING (order_id)
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
      received: payment.received,
      decided: payment.decided,
      resultAdded: result.added,
      resultPicked: result.picked,
      settled: order.settled,
    });
  }
  return stamps;
}

export function hopProfile(samples: OrderSample[], stamps: Map<string, Stamps>): HopProfile {
  const hops = Object.fromEntries(HOPS.map((hop) => [hop.key, [] as number[]])) as Record<HopKey, number[]>;
  const total: number[] = [];
  const createToResponse: number[] = [];
  let orders = 0;
  for (const sample of samples) {
    const s = stamps.get(sample.orderId);
    if (!s || sample.settledEpoch === null) continue;
    orders++;
    hops.createToQueued.push(s.requestAdded - s.created);
    hops.requestQueue.push(s.requestPicked - s.requestAdded);
    hops.inboxStore.push(s.received - s.requestPicked);
    hops.inboxToTx.push(s.decided - s.received);
    hops.paymentToQueued.push(s.resultAdded - s.decided);
    hops.resultQueue.push(s.resultPicked - s.resultAdded);
    hops.settle.push(s.settled - s.resultPicked);
    hops.announce.push(sample.settledEpoch - s.settled);
    total.push(sample.settledEpoch - s.created);
    createToResponse.push(sample.createRespondedEpoch - s.created);
  }
  return {
    orders,
    hops: Object.fromEntries(HOPS.map((hop) => [hop.key, summarize(hops[hop.key])])) as Record<
      HopKey,
      Summary
    >,
    total: summarize(total),
    createToResponse: summarize(createToResponse),
  };
}
