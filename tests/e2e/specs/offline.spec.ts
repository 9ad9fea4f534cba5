import { expect, test } from "@playwright/test";
import { startTcpProxy, waitFor } from "@gozon/core/testing";
import { apiClient } from "@gozon/system-tests/client";
import { openAccountAndTopUp, orderRow, PASSWORD, register, webA } from "./helpers.ts";

test("a page that was offline while its orders settled shows their final states, each toast once", async ({
  page,
  context,
}) => {
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

  await context.setOffline(true);
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
  await proxy.restore();
  await context.setOffline(false);

  for (const [description, status] of [
    ["Offline garland", "FINISHED"],
    ["Offline star", "FINISHED"],
    ["Offline sleigh", "CANCELLED"],
  ] as const) {
    await expect(orderRow(page, description).locator("[data-status]")).toHaveAttribute(
      "data-status",
      status,
      {
        timeout: 45_000,
      },
    );
  }
  const toasts = page.getByRole("alert");
  await expect(toasts.filter({ hasText: "Order “Offline garland” paid: 100,00" })).toHaveCount(1);
  await expect(toasts.filter({ hasText: "Order “Offline star” paid: 200,00" })).toHaveCount(1);
  await expect(
    toasts.filter({ hasText: "Order “Offline sleigh” cancelled: insufficient funds" }),
  ).toHaveCount(1);
  await expect(page.getByTestId("balance")).toHaveText("700,00\u00a0₽");
  await proxy.close();
});
