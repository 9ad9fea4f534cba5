import { expect, test, type Route } from "@playwright/test";
import { apiClient } from "@gozon/system-tests/client";
import {
  openAccountAndTopUp,
  orderRow,
  PASSWORD,
  placeOrder,
  register,
  trpcCall,
  walletStatus,
  webA,
} from "./helpers.ts";

/** The request reaches the server and is done there; its answer never reaches the page. */
const loseTheAnswer = async (route: Route) => {
  await route.fetch();
  await route.abort("connectionreset");
};

test("an order sent again after its answer was lost is placed once", async ({ page }) => {
  const email = await register(page, webA());
  await openAccountAndTopUp(page, "100,00");
  await expect(page.getByTestId("balance")).toHaveText("100,00\u00a0₽");
  const { accessToken } = await apiClient(webA()).login(email, PASSWORD);
  const shopper = apiClient(webA(), accessToken);

  await page.route(trpcCall("orders.create"), loseTheAnswer, { times: 1 });
  await placeOrder(page, "25,00", "Lost answer");
  const form = page.getByRole("region", { name: "New order" });
  await expect(form.getByRole("alert")).toBeVisible();
  // The shopper cannot know it was placed, and presses the button again, with the same values.
  await expect(page.getByLabel("Description")).toHaveValue("Lost answer");
  await form.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByLabel("Description")).toHaveValue("");
  await expect(form.getByRole("alert")).toHaveCount(0);

  expect((await shopper.listOrders()).orders).toHaveLength(1);
  await expect(orderRow(page, "Lost answer").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "FINISHED",
  );
  await expect(orderRow(page, "Lost answer")).toHaveCount(1);
  await expect(page.getByTestId("balance")).toHaveText("75,00\u00a0₽");
});

test("a top-up sent again after its answer was lost is made once; the same amount later is a new top-up", async ({
  page,
}) => {
  const email = await register(page, webA());
  await page.getByRole("button", { name: "Open account" }).click();
  await expect(page.getByTestId("balance")).toHaveText("0,00\u00a0₽");
  const { accessToken } = await apiClient(webA()).login(email, PASSWORD);
  const shopper = apiClient(webA(), accessToken);

  await page.route(trpcCall("payments.topUp"), loseTheAnswer, { times: 1 });
  const amount = page.getByLabel("Top-up amount (₽)");
  await amount.fill("100,00");
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(page.locator("#topup-amount-error")).toBeVisible();
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(walletStatus(page)).toHaveText("Added 100,00\u00a0₽ to the account.");
  expect((await shopper.getAccount()).account.balance).toBe(100_00);
  await expect(page.getByTestId("balance")).toHaveText("100,00\u00a0₽");

  // Once through, the same amount again is meant: it is added again.
  await amount.fill("100,00");
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(page.getByTestId("balance")).toHaveText("200,00\u00a0₽");
  expect((await shopper.getAccount()).account.balance).toBe(200_00);
});

test("while an order is sent its fields show what is sent and take no typing; then the cursor is back in the first field", async ({
  page,
}) => {
  await register(page, webA());
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(
    trpcCall("orders.create"),
    async (route) => {
      await held;
      await route.continue();
    },
    { times: 1 },
  );
  await placeOrder(page, "30,00", "Held order");
  const amount = page.getByLabel("Order amount (₽)");
  const description = page.getByLabel("Description");
  await expect(page.getByRole("button", { name: "Placing…" })).toBeDisabled();
  await expect(amount).not.toBeEditable();
  await expect(description).not.toBeEditable();
  // Typing anyway changes nothing: what is shown is what is being sent.
  await description.focus();
  await page.keyboard.type(" and more");
  await expect(description).toHaveValue("Held order");

  release();
  // No account: the order is cancelled at once.
  await expect(orderRow(page, "Held order").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "CANCELLED",
  );
  await expect(description).toHaveValue("");
  await expect(amount).toBeEditable();
  await expect(amount).toBeFocused();
});

test("a top-up waiting for the network keeps its amount as sent; back online it is made and the cursor is back in the field", async ({
  page,
  context,
}) => {
  await register(page, webA());
  await openAccountAndTopUp(page, "10,00");
  await expect(page.getByTestId("balance")).toHaveText("10,00\u00a0₽");

  await context.setOffline(true);
  const amount = page.getByLabel("Top-up amount (₽)");
  await amount.fill("5,00");
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(walletStatus(page)).toHaveText(
    "You are offline: the top-up will be made as soon as the connection is back.",
  );
  await expect(page.getByRole("button", { name: "Topping up…" })).toBeDisabled();
  await expect(amount).not.toBeEditable();
  await amount.focus();
  await page.keyboard.type("0");
  await expect(amount).toHaveValue("5,00");
  await context.setOffline(false);
  await expect(walletStatus(page)).toHaveText("Added 5,00\u00a0₽ to the account.");
  await expect(page.getByTestId("balance")).toHaveText("15,00\u00a0₽");
  await expect(amount).toHaveValue("");
  await expect(amount).toBeFocused();
});

test("a top-up pressed by its button gives the cursor back to the amount when it is done", async ({
  page,
}) => {
  await register(page, webA());
  await openAccountAndTopUp(page, "10,00");
  await expect(walletStatus(page)).toHaveText("Added 10,00\u00a0₽ to the account.");
  // The disabled button dropped the focus; the amount field has it again for the next top-up.
  await expect(page.getByLabel("Top-up amount (₽)")).toBeFocused();
});
