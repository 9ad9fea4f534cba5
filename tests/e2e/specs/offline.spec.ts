import { expect, test } from "@playwright/test";
import { startTcpProxy, waitFor } from "@gozon/core/testing";
import { apiClient } from "@gozon/system-tests/client";
import { openAccountAndTopUp, orderRow, PASSWORD, placeOrder, register, webA } from "./helpers.ts";

test("a page that was offline while its orders settled shows their final states, each toast once", async ({
  page,
  context,
}) => {
  // The wait for a fresh try below may sit out the longest backoff (30 s).
  test.setTimeout(120_000);
  // The page reaches the web server through a proxy the test can cut: a real network drop, which closes
  // the WebSocket too (Playwright's offline mode alone leaves an open socket alone).
  const target = new URL(webA());
  const proxy = await startTcpProxy(target.hostname, Number(target.port));
  const site = proxy.route(webA());
  const email = await register(page, site);
  await openAccountAndTopUp(page, "1 000,00");
  await expect(page.getByTestId("balance")).toHaveText("1\u00a0000,00\u00a0₽");
  // The page is live: its list came with a feed position and the feed is subscribed from it.
  const { accessToken } = await apiClient(webA()).login(email, PASSWORD);
  const shopper = apiClient(webA(), accessToken);

  // Every socket the page tries to open from here on, the ones the cut network refuses included, and when
  // the last was.
  let sockets = 0;
  let lastTry = 0;
  page.on("websocket", () => {
    sockets++;
    lastTry = Date.now();
  });

  await proxy.cut();
  // Orders placed elsewhere (another device) settle while this page cannot hear of it.
  const placed = [];
  for (const [amount, description] of [
    [10_000, "Offline garland"],
    [20_000, "Offline star"],
    [500_000_00, "Offline sleigh"],
  ] as const) {
    const { order } = await shopper.createOrder(amount, description);
    placed.push({ id: order.id, description });
  }
  for (const { id } of placed) {
    await waitFor(async () => (await shopper.getOrder(id)).order.status !== "NEW", { what: "the settle" });
  }
  // Really cut off: nothing of this reached the page.
  await expect(orderRow(page, "Offline garland")).toHaveCount(0);
  // The page keeps trying, waiting twice as long each time (up to 30 s): just after its third refused try
  // since the cut, or any later one, the next is at least 8 s away. Counted from the cut, not from the
  // settles: on a slow host those can take longer than the first tries.
  await expect
    .poll(() => sockets >= 3 && Date.now() - lastTry < 1_000, {
      timeout: 45_000,
      intervals: [100],
    })
    .toBe(true);
  // The network comes back, and the browser says so: the page reconnects at once, not at its next try.
  await context.setOffline(true);
  await proxy.restore();
  await context.setOffline(false);

  for (const [description, status] of [
    ["Offline garland", "FINISHED"],
    ["Offline star", "FINISHED"],
    ["Offline sleigh", "CANCELLED"],
  ] as const) {
    await expect(orderRow(page, description).locator("[data-status]")).toHaveAttribute("data-status", status);
  }
  // The list is read again when the browser comes online; the toasts come only over the feed, which
  // without reconnecting at once would wait out the 8 s or more to its next try.
  const toasts = page.getByRole("alert");
  await expect(toasts.filter({ hasText: "Order “Offline garland” paid: 100,00" })).toHaveCount(1, {
    timeout: 5_000,
  });
  await expect(toasts.filter({ hasText: "Order “Offline star” paid: 200,00" })).toHaveCount(1);
  await expect(
    toasts.filter({ hasText: "Order “Offline sleigh” cancelled: insufficient funds" }),
  ).toHaveCount(1);
  await expect(page.getByTestId("balance")).toHaveText("700,00\u00a0₽");
  await proxy.close();
});

test("offline, the page says so; an order and a top-up wait (leaving asks first) and go through once back online", async ({
  page,
  context,
}) => {
  const email = await register(page, webA());
  await openAccountAndTopUp(page, "100,00");
  await expect(page.getByTestId("balance")).toHaveText("100,00\u00a0₽");
  const { accessToken } = await apiClient(webA()).login(email, PASSWORD);
  const shopper = apiClient(webA(), accessToken);

  const offline = page.getByText("You are offline. What you send now goes out once the connection is back.");
  await expect(offline).toHaveCount(0);
  await context.setOffline(true);
  // The page says so before anything is sent.
  await expect(offline).toBeVisible();
  await placeOrder(page, "40,00", "Sent while offline");
  await expect(
    page.getByText("You are offline: the order will be placed as soon as the connection is back."),
  ).toBeVisible();
  await page.getByLabel("Top-up amount (₽)").fill("5,00");
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(
    page.getByText("You are offline: the top-up will be made as soon as the connection is back."),
  ).toBeVisible();
  // Nothing left the browser.
  expect((await shopper.listOrders()).orders).toHaveLength(0);
  expect((await shopper.getAccount()).account.balance).toBe(100_00);
  // Leaving now would drop what waits in this page: the browser asks first.
  const asked = page.waitForEvent("dialog");
  await page.close({ runBeforeUnload: true });
  const dialog = await asked;
  expect(dialog.type()).toBe("beforeunload");
  await dialog.dismiss();
  expect(page.isClosed()).toBe(false);

  await context.setOffline(false);
  await expect(orderRow(page, "Sent while offline").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "FINISHED",
  );
  await expect(page.getByText("Added 5,00\u00a0₽ to the account.")).toBeVisible();
  await expect(page.getByText(/You are offline/)).toHaveCount(0);
  await expect(page.getByTestId("balance")).toHaveText("65,00\u00a0₽");
  expect((await shopper.listOrders()).orders).toHaveLength(1);
  // Nothing waits any more: the page goes without a question.
  let askedAgain = false;
  page.on("dialog", (dialog) => {
    askedAgain = true;
    void dialog.accept();
  });
  await page.close({ runBeforeUnload: true });
  await expect.poll(() => page.isClosed()).toBe(true);
  expect(askedAgain).toBe(false);
});
