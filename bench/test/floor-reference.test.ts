import { randomUUID } from "node:crypto";
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { floorReference } from "../src/floor-reference.ts";

// Stands in for the monolith server's floor (a WebSocket at /floor that carries order ids): each order is
// answered `answerMs` after it is placed, and its push goes out `afterMs` after that answer, or before it
// (the answer then waits until the push has arrived).
async function fakeMonolith(push: { answerMs: number; afterMs: number } | "before-answer") {
  const server = http.createServer();
  const sockets = new WebSocketServer({ server, path: "/floor" });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const send = (orderId: string) => sockets.clients.forEach((socket) => socket.send(orderId));
  const placeFloorOrder = async () => {
    const orderId = randomUUID();
    if (push === "before-answer") {
      send(orderId);
      // Long enough for the push to be read before the answer (loopback, both in this process).
      await sleep(30);
    } else {
      await sleep(push.answerMs);
      setTimeout(() => send(orderId), push.afterMs);
    }
    return orderId;
  };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    placeFloorOrder,
    close: async () => {
      for (const socket of sockets.clients) socket.terminate();
      sockets.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** The floor over a stand-in server, run for 0.2 s at 100 orders/s: every order answered and pushed. */
async function runFloor(push: Parameters<typeof fakeMonolith>[0]) {
  const monolith = await fakeMonolith(push);
  closers.push(monolith.close);
  const floor = await floorReference(monolith);
  closers.push(floor.close);
  const result = await floor.runOpen(100, 0.2);
  expect(result.errors).toBe(0);
  expect(result.operations).toBeGreaterThan(5);
  return result;
}

describe("the floor's clock", () => {
  it("runs from the create's answer to the push", async () => {
    const result = await runFloor({ answerMs: 200, afterMs: 25 });
    // The timer fires no earlier than 25 ms after the answer's own timestamp was taken; timed from the
    // order's arrival, every latency would be over 225 ms.
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(24);
    expect(result.latencyMs.p50).toBeLessThan(150);
  });

  it("counts a push read before the answer as 0 ms, not as a lost one", async () => {
    const result = await runFloor("before-answer");
    expect(result.latencyMs.max).toBe(0);
  });
});
