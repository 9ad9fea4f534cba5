import { expect, test } from "@playwright/test";
import { apiClient } from "@gozon/system-tests/client";
import { orderRow, PASSWORD, register, trpcCall, webA } from "./helpers.ts";

test("when the order list cannot be read, “Try again” reads it and the live feed starts with it", async ({
  page,
}) => {
  // The first read and the client's own three retries fail; the next read goes through.
  let refused = 0;
  await page.route(
    trpcCall("orders.list"),
    async (route) => {
      refused++;
      await route.fulfill({
        status: 500,
        contentType: "application/json",
        body: JSON.stringify({
          error: {
            message: "The orders service is unavailable",
            code: -32603,
            data: { code: "INTERNAL_SERVER_ERROR", httpStatus: 500 },
          },
        }),
      });
    },
    { times: 4 },
  );
  const email = await register(page, webA());
  const orders = page.getByRole("region", { name: "Your orders" });
  await expect(orders.getByRole("alert")).toHaveText(
    "Could not load your orders: The orders service is unavailable",
  );
  expect(refused).toBe(4);

  const tryAgain = orders.getByRole("button", { name: "Try again" });
  await expect(tryAgain).toBeVisible();
  await tryAgain.focus();
  await page.keyboard.press("Enter");
  await expect(orders.getByText("No orders yet")).toBeVisible();
  await expect(orders.getByRole("alert")).toHaveCount(0);
  // The button went with the failure: the keyboard goes on from the list.
  await expect(orders.getByRole("heading", { name: "Your orders" })).toBeFocused();

  // Placed elsewhere (another device): only the live feed brings it here, and its settle.
  const { accessToken } = await apiClient(webA()).login(email, PASSWORD);
  await apiClient(webA(), accessToken).createOrder(12_00, "After trying again");
  // No account: the order is cancelled at once.
  await expect(orderRow(page, "After trying again").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "CANCELLED",
  );
});
