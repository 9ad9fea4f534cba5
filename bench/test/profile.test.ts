import { describe, expect, it } from "vitest";
import { hopProfile } from "../src/profile.ts";
import type { OrderSample } from "../src/saga.ts";

/** An order placed `placedMs` into the run whose every hop took `hopMs` (eight hops). */
function order(i: number, placedMs: number, hopMs: number) {
  const created = 1_000_000 + placedMs;
  const stamps = {
    created,
    requestAdded: created + hopMs,
    requestPicked: created + 2 * hopMs,
    received: created + 3 * hopMs,
    decided: created + 4 * hopMs,
    resultAdded: created + 5 * hopMs,
    resultPicked: created + 6 * hopMs,
    settled: created + 7 * hopMs,
  };
  const sample: OrderSample = {
    orderId: `order-${i}`,
    createStartedAt: placedMs,
    createRespondedAt: placedMs + 1,
    createRespondedEpoch: created + 1,
    settledAt: placedMs + 8 * hopMs,
    settledEpoch: created + 8 * hopMs,
    status: "FINISHED",
  };
  return { sample, stamps };
}

describe("hopProfile", () => {
  it("finds the slowest 1%, when they were placed and where their time went", () => {
    // 300 orders over 30 s at 1 ms a hop, but the three placed in second 12 took 10 ms a hop.
    const orders = Array.from({ length: 300 }, (_, i) => {
      const placedMs = i * 100;
      return order(i, placedMs, placedMs >= 12_000 && placedMs < 12_300 ? 10 : 1);
    });
    const profile = hopProfile(
      orders.map((o) => o.sample),
      new Map(orders.map((o) => [o.sample.orderId, o.stamps])),
    );
    expect(profile.orders).toBe(300);
    expect(profile.slowest).toMatchObject({
      orders: 3,
      placedFromSeconds: 12,
      placedToSeconds: 12.2,
      placedInSeconds: 1,
    });
    expect(profile.slowest?.meanMs.requestQueue).toBe(10);
    expect(profile.slowest?.allMeanMs.requestQueue).toBeCloseTo((297 * 1 + 3 * 10) / 300);
  });
});
