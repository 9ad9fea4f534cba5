// Reference (d), at half load only: the floor, the saga's shape with the least work in it. The driver
// places the monolith's order (HTTP, the product's JWT check and zod schema, one transaction); before it
// answers, the monolith server puts a job on the BullMQ reference's request queue (as the web hands the
// saga's request to BullMQ); the echo worker, in its own process as the payments worker is, replies on a
// queue the monolith server consumes (as the orders worker consumes results); the server then pushes the
// order id over a WebSocket to the driver (as the settle reaches the admin's feed). Timed from the create's
// answer to the push, as the saga is timed from the create's answer to its settle event.
// Every design built from the product's parts does at least this much per order: it takes the order over
// HTTP into a transaction, its two services talk over two BullMQ hops, and the browser hears of the
// outcome over a WebSocket. The saga also decides the payment and settles the order in transactions of
// their own, and carries its event through Redis pub/sub. The driver's part is the saga's: the HTTP
// client and the socket.
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { arrivalSource, openLoop } from "./loop.ts";
import type { MonolithReference } from "./monolith-reference.ts";

const REPLY_TIMEOUT_MS = 30_000;

export async function floorReference(monolith: Pick<MonolithReference, "baseUrl" | "placeFloorOrder">) {
  const socket = new WebSocket(`${monolith.baseUrl.replace(/^http/, "ws")}/floor`);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  // A push can be read before its create's answer (both arrive; this event loop picks the socket first):
  // it is kept until the order asks, and counts as 0 ms, as the saga's early settle events do.
  const early = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  // A socket that fails later closes: the orders still waiting time out and count as the loop's errors,
  // rather than an unheard 'error' event ending the bench.
  socket.on("error", () => {});
  socket.on("message", (data: WebSocket.RawData) => {
    const at = performance.now();
    const orderId = data.toString();
    const waiter = waiting.get(orderId);
    if (waiter) waiter(at);
    else early.set(orderId, at);
  });

  const order = async (lane: number) => {
    const orderId = await monolith.placeFloorOrder(lane);
    const answered = performance.now();
    const pushed = early.get(orderId);
    if (pushed !== undefined) {
      early.delete(orderId);
      return Math.max(0, pushed - answered);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const at = await new Promise<number>((resolve, reject) => {
        waiting.set(orderId, resolve);
        timer = setTimeout(
          () => reject(new Error(`no floor push for ${orderId} within ${REPLY_TIMEOUT_MS} ms`)),
          REPLY_TIMEOUT_MS,
        );
      });
      return at - answered;
    } finally {
      clearTimeout(timer);
      waiting.delete(orderId);
    }
  };

  const arrivals = arrivalSource();
  return {
    /** Each run continues the arrivals of the one before (the warm-up). */
    runOpen: (rate: number, seconds: number) => openLoop(rate, seconds, order, arrivals),
    close: () => socket.close(),
  };
}
