// Status changes reach the browser whichever web instance it is connected to, and only the right ones.
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitFor } from "@gozon/core/testing";
import { apiClient, signUp } from "../src/client.ts";
import { subscribeFeed, type Received } from "../src/live.ts";
import { ADMIN, startSystem, type System } from "../src/system.ts";

let system: System;
const feeds: Array<ReturnType<typeof subscribeFeed>> = [];

beforeAll(async () => {
  // The feed's poll of the log is put out of reach, so a settle that arrives within seconds came by pub/sub.
  system = await startSystem({ webInstances: 2, env: { FEED_POLL_MS: "60000" } });
});
afterAll(async () => {
  for (const feed of feeds) feed.close();
  await system?.stop();
});

const open = (...args: Parameters<typeof subscribeFeed>) => {
  const feed = subscribeFeed(...args);
  feeds.push(feed);
  return feed;
};

const settledEvent = (events: Received[], orderId: string) =>
  events.find((e) => e.orderId === orderId && e.status !== "NEW");

it("delivers A's settle to A's socket on the other instance at once, to admins, and to nobody else", async () => {
  const [instanceA, instanceB] = system.webUrls as [string, string];
  const alice = await signUp(instanceA, "alice");
  const carol = await signUp(instanceA, "carol");
  const { accessToken: adminToken } = await apiClient(instanceA).login(ADMIN.email, ADMIN.password);
  const aliceToken = (await apiClient(instanceA).login(alice.email, "password-123")).accessToken;
  const carolToken = (await apiClient(instanceA).login(carol.email, "password-123")).accessToken;

  const aliceOnB = open(instanceB, aliceToken, "orders.onStatusChange");
  const carolOnA = open(instanceA, carolToken, "orders.onStatusChange");
  const carolOnB = open(instanceB, carolToken, "orders.onStatusChange");
  const adminOnB = open(instanceB, adminToken, "admin.orderFeed");
  await waitFor(() => [aliceOnB, carolOnA, carolOnB, adminOnB].every((f) => f.isStarted()), {
    what: "subscriptions to start",
  });

  await alice.api.createAccount();
  await alice.api.topUp(5_000);
  const { order } = await alice.api.createOrder(1_200, "through instance A");
  // Carol's own order proves her sockets are live while they receive nothing of Alice's.
  const { order: carolsOrder } = await carol.api.createOrder(300, "carol has no account");

  const aliceEvent = await waitFor(() => settledEvent(aliceOnB.events, order.id), { what: "A's event on B" });
  expect(aliceEvent).toMatchObject({ status: "FINISHED", userId: alice.userId, reason: null });
  const { order: settled } = await alice.api.getOrder(order.id);
  // Pub/sub, not the poll (a minute): a typical delivery takes milliseconds; the bound is for a slow host.
  expect(aliceEvent.receivedAt - Date.parse(settled.updatedAt)).toBeLessThan(5_000);

  await waitFor(() => settledEvent(carolOnA.events, carolsOrder.id), { what: "C's own event on A" });
  await waitFor(() => settledEvent(carolOnB.events, carolsOrder.id), { what: "C's own event on B" });
  await waitFor(
    () => settledEvent(adminOnB.events, order.id) && settledEvent(adminOnB.events, carolsOrder.id),
    {
      what: "both settles on the admin feed",
    },
  );
  // The admin's feed names each order's user, as the admin's lists do; a shopper's own feed does not.
  expect(settledEvent(adminOnB.events, order.id)?.email).toBe(alice.email);
  expect(settledEvent(adminOnB.events, carolsOrder.id)?.email).toBe(carol.email);
  expect(aliceEvent).not.toHaveProperty("email");

  for (const feed of [carolOnA, carolOnB]) {
    expect(feed.events.filter((e) => e.userId !== carol.userId)).toEqual([]);
    expect(settledEvent(feed.events, carolsOrder.id)).toMatchObject({
      status: "CANCELLED",
      reason: "NO_ACCOUNT",
    });
  }
  expect(aliceOnB.events.filter((e) => e.userId !== alice.userId)).toEqual([]);
  expect(adminOnB.events.map((e) => e.userId)).toEqual(expect.arrayContaining([alice.userId, carol.userId]));
  expect([...feeds].flatMap((f) => f.errors)).toEqual([]);
});

it("a page that reconnects with its lastEventId catches up on what it missed", async () => {
  const [instanceA, instanceB] = system.webUrls as [string, string];
  const bob = await signUp(instanceA, "bob");
  const bobToken = (await apiClient(instanceA).login(bob.email, "password-123")).accessToken;
  await bob.api.createAccount();
  await bob.api.topUp(10_000);

  const first = open(instanceB, bobToken, "orders.onStatusChange");
  await waitFor(() => first.isStarted());
  const { order: seen } = await bob.api.createOrder(100, "seen live");
  const lastSeen = await waitFor(() => settledEvent(first.events, seen.id));
  first.close();

  // While the page is away, two orders are created and settle; nobody is listening for Bob.
  const missed: string[] = [];
  for (const amount of [200, 300]) {
    const { order } = await bob.api.createOrder(amount, `missed while away (${amount})`);
    await waitFor(async () => (await bob.api.getOrder(order.id)).order.status !== "NEW");
    missed.push(order.id);
  }

  const resumed = open(instanceA, bobToken, "orders.onStatusChange", String(lastSeen.position));
  await waitFor(() => missed.every((id) => settledEvent(resumed.events, id)), { what: "the missed events" });
  // Every change it missed, in order: each order's creation, then its settle.
  expect(resumed.events.map((e) => [e.orderId, e.status])).toEqual(
    missed.flatMap((id) => [
      [id, "NEW"],
      [id, "FINISHED"],
    ]),
  );

  // And it keeps streaming live after the replay.
  const { order: live } = await bob.api.createOrder(400, "after reconnect");
  await waitFor(() => settledEvent(resumed.events, live.id), { what: "a live event after the replay" });
  expect(new Set(resumed.events.map((e) => e.position)).size).toBe(resumed.events.length);
});

it("an admin's feed opened fresh starts with the latest changes, then goes live", async () => {
  const [web] = system.webUrls as [string];
  const dave = await signUp(web, "dave");
  await dave.api.createAccount();
  await dave.api.topUp(1_000);
  const placed: string[] = [];
  for (const amount of [100, 200]) {
    const { order } = await dave.api.createOrder(amount, `placed before the admin looked (${amount})`);
    await waitFor(async () => (await dave.api.getOrder(order.id)).order.status !== "NEW");
    placed.push(order.id);
  }
  const { accessToken: adminToken } = await apiClient(web).login(ADMIN.email, ADMIN.password);
  const feed = open(web, adminToken, "admin.orderFeed");
  await waitFor(() => placed.every((id) => settledEvent(feed.events, id)), { what: "the earlier orders" });
  // The latest changes, oldest first, and nothing live has happened yet.
  const history = feed.events.filter((e) => placed.includes(e.orderId));
  expect(history.map((e) => [e.orderId, e.status])).toEqual(
    placed.flatMap((id) => [
      [id, "NEW"],
      [id, "FINISHED"],
    ]),
  );
  expect(history.map((e) => e.email)).toEqual(history.map(() => dave.email));

  const { order: live } = await dave.api.createOrder(300, "placed while the admin watches");
  await waitFor(() => settledEvent(feed.events, live.id), { what: "the live order" });
  expect(settledEvent(feed.events, live.id)?.email).toBe(dave.email);
  expect(new Set(feed.events.map((e) => e.position)).size).toBe(feed.events.length);
});

it("a client moving between instances while orders settle misses nothing and gets nothing twice", async () => {
  const [instanceA, instanceB] = system.webUrls as [string, string];
  const erin = await signUp(instanceA, "erin");
  const token = (await apiClient(instanceA).login(erin.email, "password-123")).accessToken;
  await erin.api.createAccount();
  await erin.api.topUp(1_000_000);
  const { position: start } = await erin.api.listOrders();

  // Orders keep coming while the client hops A → B → A → B, resuming each time after what it saw.
  const placed: string[] = [];
  let placing = true;
  const orders = (async () => {
    for (let i = 0; placing && i < 200; i++)
      placed.push((await erin.api.createOrder(100, `hop ${i}`)).order.id);
  })();
  const received: Received[] = [];
  let last = String(start);
  for (const instance of [instanceA, instanceB, instanceA, instanceB]) {
    const feed = open(instance, token, "orders.onStatusChange", last);
    const target = received.length + 6;
    await waitFor(() => received.length + feed.events.length >= target, { what: "events on this instance" });
    feed.close();
    received.push(...feed.events);
    last = String(received.at(-1)!.position);
  }
  placing = false;
  await orders;
  for (const id of placed) await waitFor(async () => (await erin.api.getOrder(id)).order.status !== "NEW");
  const final = open(instanceA, token, "orders.onStatusChange", last);
  await waitFor(() => placed.every((id) => settledEvent([...received, ...final.events], id)), {
    what: "every settle",
  });
  const all = [...received, ...final.events];
  const positions = all.map((e) => e.position);
  expect(positions).toEqual([...positions].sort((a, b) => a - b));
  expect(new Set(positions).size).toBe(positions.length);
  expect(all.map((e) => `${e.orderId}:${e.status}`).sort()).toEqual(
    placed.flatMap((id) => [`${id}:NEW`, `${id}:FINISHED`]).sort(),
  );
  expect(all.every((e) => e.userId === erin.userId)).toBe(true);
});

it("refuses a malformed lastEventId with a 400, and keeps serving", async () => {
  const [web] = system.webUrls as [string];
  const frank = await signUp(web, "frank");
  const token = (await apiClient(web).login(frank.email, "password-123")).accessToken;
  for (const bad of ["x".repeat(36), "9".repeat(30), "-1", "1e3"]) {
    const feed = open(web, token, "orders.onStatusChange", bad);
    const error = await waitFor(() => feed.errors[0], { what: `the error for ${bad}` });
    expect(error).toMatchObject({ data: { code: "BAD_REQUEST", httpStatus: 400 } });
    feed.close();
  }
  const good = open(web, token, "orders.onStatusChange");
  await waitFor(() => good.isStarted(), { what: "a valid subscription" });
});

it("shows the queue dashboard (Bull Board) to admins only", async () => {
  const [web] = system.webUrls as [string];
  const board = `${web}/api/admin/queues`;
  const shopper = await signUp(web, "dave");
  const shopperToken = (await apiClient(web).login(shopper.email, "password-123")).accessToken;
  const { accessToken: adminToken } = await apiClient(web).login(ADMIN.email, ADMIN.password);

  expect((await fetch(board)).status).toBe(401);
  expect((await fetch(board, { headers: { authorization: `Bearer ${shopperToken}` } })).status).toBe(403);
  const page = await fetch(board, { headers: { authorization: `Bearer ${adminToken}` } });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain("<html");
  const api = await fetch(`${board}/api/queues`, { headers: { authorization: `Bearer ${adminToken}` } });
  expect(api.status).toBe(200);
  const { queues } = (await api.json()) as { queues: Array<{ name: string }> };
  expect(queues.map((q) => q.name).sort()).toEqual(["orders.payment-results", "payments.requests"]);
});
