// The system under test, driven over its REST API as shoppers would, timed by the admin's live feed.
import { performance } from "node:perf_hooks";
import { ApiError, apiClient, inParallel, signUp, type ApiClient } from "@gozon/system-tests/client";
import { random } from "@gozon/system-tests/load";
import type { SettleFeed } from "./feed.ts";
import { arrivalSource, poissonArrivals } from "./loop.ts";
import { summarize, type Summary } from "./stats.ts";

/** A shopper's access token lasts minutes: `api` is replaced by a fresh login when it expires. */
export type Shopper = { userId: string; email: string; api: ApiClient; baseUrl: string };

const PASSWORD = "password-123"; // what signUp registers with

/** One measured order: epoch times for the hop profile, high-resolution ones for latencies. */
export type OrderSample = {
  orderId: string;
  createStartedAt: number;
  createRespondedAt: number;
  /** Date.now() when the create response arrived (to line up with database timestamps). */
  createRespondedEpoch: number;
  settledAt: number | null;
  settledEpoch: number | null;
  status: string | null;
};

export type SagaResult = {
  mode: "closed" | "open";
  concurrency: number | null;
  offeredRate: number | null;
  orders: number;
  finished: number;
  cancelled: number;
  /** Orders whose settle event did not arrive within the wait (a lost event or a stuck order). */
  missing: number;
  failedCreates: number;
  /** Why creates failed: "HTTP 503 SOME_CODE" (or the error's message) → count. */
  createErrors: Record<string, number>;
  seconds: number;
  /** Settled orders per second, from the first create request to the last settle event received. */
  throughput: number;
  settleMs: Summary;
  createMs: Summary;
  /** Open loop only: the most create requests in flight at once, and how late the schedule ran. */
  maxInFlight?: number;
  scheduleLagMs?: Summary;
  samples: OrderSample[];
};

/** Shoppers with an account and a balance no benchmark can spend (orders are 1–40 roubles). */
export async function createShoppers(baseUrl: string, count: number): Promise<Shopper[]> {
  return inParallel(
    4,
    Array.from({ length: count }, (_, i) => async () => {
      const { userId, email, api } = await signUp(baseUrl, `bench${i}`);
      await api.createAccount();
      await api.topUp(1_000_000_000);
      return { userId, email, api, baseUrl };
    }),
  );
}

type Failures = { count: number; reasons: Record<string, number> };

export class SagaDriver {
  private readonly amount = random(7);
  /** One arrival sequence for all of this driver's open-loop runs: each continues the one before. */
  private readonly arrivals = arrivalSource();
  private sequence = 0;

  constructor(
    private readonly shoppers: Shopper[],
    private readonly feed: SettleFeed,
    private readonly settleTimeoutMs = 30_000,
  ) {}

  /** Places one order and waits for its settle event; never throws (a failed create is recorded). */
  private async placeAndWait(shopper: Shopper, samples: OrderSample[], failures: Failures) {
    let createStartedAt = performance.now();
    let orderId: string;
    try {
      const amount = this.amount(100, 4_000);
      const description = `bench #${++this.sequence}`;
      const order = await shopper.api.createOrder(amount, description).catch(async (error: unknown) => {
        if (!(error instanceof ApiError && error.status === 401)) throw error;
        const { accessToken } = await apiClient(shopper.baseUrl).login(shopper.email, PASSWORD);
        shopper.api = apiClient(shopper.baseUrl, accessToken);
        createStartedAt = performance.now();
        return shopper.api.createOrder(amount, description);
      });
      orderId = order.order.id;
    } catch (error) {
      failures.count++;
      const reason =
        error instanceof ApiError
          ? `HTTP ${error.status} ${JSON.stringify(error.body).slice(0, 160)}`
          : error instanceof Error
            ? error.message
            : String(error);
      failures.reasons[reason] = (failures.reasons[reason] ?? 0) + 1;
      return;
    }
    const sample: OrderSample = {
      orderId,
      createStartedAt,
      createRespondedAt: performance.now(),
      createRespondedEpoch: Date.now(),
      settledAt: null,
      settledEpoch: null,
      status: null,
    };
    samples.push(sample);
    const event = await this.feed.settled(orderId, this.settleTimeoutMs);
    if (event) {
      sample.settledAt = event.at;
      sample.settledEpoch = event.receivedAt;
      sample.status = event.status;
    }
  }

  /**
   * Closed loop: `concurrency` lanes, each a shopper who places an order, waits until its status event
   * arrives, and places the next, for `seconds`. So `concurrency` orders are in flight end to end.
   */
  async closedLoop(concurrency: number, seconds: number): Promise<SagaResult> {
    const samples: OrderSample[] = [];
    const failures: Failures = { count: 0, reasons: {} };
    const deadline = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, lane) => {
        const shopper = this.shoppers[lane % this.shoppers.length] as Shopper;
        while (performance.now() < deadline) await this.placeAndWait(shopper, samples, failures);
      }),
    );
    return result("closed", concurrency, null, samples, failures);
  }

  /**
   * Open loop: orders arrive as a Poisson process at `rate` per second for `seconds`, each placed when
   * its time comes whatever is still in flight (so a slow system cannot slow the arrivals down and hide
   * its own latency). Shoppers take turns.
   */
  async openLoop(rate: number, seconds: number, maxInFlight = 2_000): Promise<SagaResult> {
    const samples: OrderSample[] = [];
    const failures: Failures = { count: 0, reasons: {} };
    const pending: Array<Promise<void>> = [];
    let inFlight = 0;
    let peak = 0;
    const lags = await poissonArrivals(
      rate,
      seconds,
      (i) => {
        if (inFlight >= maxInFlight) {
          failures.count++;
          failures.reasons["not sent: too many in flight"] =
            (failures.reasons["not sent: too many in flight"] ?? 0) + 1;
          return;
        }
        inFlight++;
        peak = Math.max(peak, inFlight);
        const shopper = this.shoppers[i % this.shoppers.length] as Shopper;
        pending.push(this.placeAndWait(shopper, samples, failures).finally(() => inFlight--));
      },
      this.arrivals,
    );
    await Promise.all(pending);
    return {
      ...result("open", null, rate, samples, failures),
      maxInFlight: peak,
      scheduleLagMs: summarize(lags),
    };
  }
}

function result(
  mode: "closed" | "open",
  concurrency: number | null,
  offeredRate: number | null,
  samples: OrderSample[],
  failures: Failures,
): SagaResult {
  const settled = samples.filter((s) => s.settledAt !== null);
  const first = samples.reduce((min, s) => Math.min(min, s.createStartedAt), Infinity);
  const last = settled.reduce((max, s) => Math.max(max, s.settledAt as number), -Infinity);
  const seconds = settled.length > 0 ? (last - first) / 1000 : Number.NaN;
  return {
    mode,
    concurrency,
    offeredRate,
    orders: samples.length,
    finished: settled.filter((s) => s.status === "FINISHED").length,
    cancelled: settled.filter((s) => s.status === "CANCELLED").length,
    missing: samples.length - settled.length,
    failedCreates: failures.count,
    createErrors: failures.reasons,
    seconds,
    throughput: settled.length / seconds,
    // Under load the settle event can be read before the create response (both arrive; the bench's own
    // event loop picks the socket first): the order was settled by the time the client knew of it, so 0.
    settleMs: summarize(settled.map((s) => Math.max(0, (s.settledAt as number) - s.createRespondedAt))),
    createMs: summarize(samples.map((s) => s.createRespondedAt - s.createStartedAt)),
    samples,
  };
}
