import { expect, test } from "@playwright/test";
import { openAccountAndTopUp, orderRow, placeOrder, register, webA } from "./helpers.ts";

test("a shopper tops up, places an order and sees it paid live", async ({ page }) => {
  await register(page, webA());
  await openAccountAndTopUp(page, "1 000,00");
  await expect(page.getByTestId("balance")).toHaveText("1\u00a0000,00\u00a0₽");

  await placeOrder(page, "250,00", "New Year tree");
  await expect(
    page.getByRole("alert").filter({ hasText: "Order “New Year tree” paid: 250,00" }),
  ).toBeVisible();
  await expect(orderRow(page, "New Year tree").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "FINISHED",
  );
  await expect(page.getByTestId("balance")).toHaveText("750,00\u00a0₽");
});

test("an order larger than the balance is cancelled for insufficient funds", async ({ page }) => {
  await register(page, webA());
  await openAccountAndTopUp(page, "100");
  await expect(page.getByTestId("balance")).toHaveText("100,00\u00a0₽");

  await placeOrder(page, "150,00", "Too expensive");
  await expect(
    page.getByRole("alert").filter({ hasText: "Order “Too expensive” cancelled: insufficient funds" }),
  ).toBeVisible();
  await expect(orderRow(page, "Too expensive").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "CANCELLED",
  );
  await expect(page.getByTestId("balance")).toHaveText("100,00\u00a0₽");
});
