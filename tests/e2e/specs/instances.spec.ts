import { expect, test } from "@playwright/test";
import { apiClient } from "@gozon/system-tests/client";
import { openAccountAndTopUp, orderRow, PASSWORD, register, webA, webB } from "./helpers.ts";

test("a toast reaches the page on instance B for an order placed through instance A's API", async ({
  page,
}) => {
  const email = await register(page, webB());
  await openAccountAndTopUp(page, "300");
  await expect(page.getByTestId("balance")).toHaveText("300,00\u00a0₽");

  const { accessToken } = await apiClient(webA()).login(email, PASSWORD);
  const { order } = await apiClient(webA(), accessToken).createOrder(12_000, "Placed through A");
  expect(order.status).toBe("NEW");

  await expect(
    page.getByRole("alert").filter({ hasText: "Order “Placed through A” paid: 120,00" }),
  ).toBeVisible();
  await expect(orderRow(page, "Placed through A").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "FINISHED",
  );
  await expect(page.getByTestId("balance")).toHaveText("180,00\u00a0₽");
});
