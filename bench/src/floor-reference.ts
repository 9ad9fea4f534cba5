// Reference (d), at half load only: the floor. Per order, the monolith's whole order (HTTP, the product's
// JWT check and zod schema, one transaction), then the bare BullMQ round trip (the saga's two hops with
// its queue options). Every design built from the product's parts does at least this much per order: it
// takes the order over HTTP into a transaction, and its two services talk over two BullMQ hops. Timed from
// the create's answer to the reply, as the saga is timed from the create's answer to the settle event.
// The driver holds the round trip's two ends (in the saga the web and the orders worker do), so its own
// CPU per order is higher than in the saga's run; the machine's is lower: the saga also decides the
// payment, settles the order and carries the event to the browser.
import { performance } from "node:perf_hooks";
import type { BullmqReference } from "./bullmq-reference.ts";
import { arrivalSource, openLoop } from "./loop.ts";
import type { MonolithReference } from "./monolith-reference.ts";

export function floorReference(monolith: MonolithReference, bullmq: BullmqReference) {
  const arrivals = arrivalSource();
  const order = async (lane: number) => {
    await monolith.placeOrder(lane);
    const answered = performance.now();
    await bullmq.roundTrip();
    return performance.now() - answered;
  };
  return {
    /** Each run continues the arrivals of the one before (the warm-up). */
    runOpen: (rate: number, seconds: number) => openLoop(rate, seconds, order, arrivals),
  };
}
