import { expect, test, type Page } from "@playwright/test";
import { signUp } from "@gozon/system-tests/client";
import { ADMIN, orderRow, signIn, webA } from "./helpers.ts";

// An admin's filters live in the page's address: Back from a page they led to, and a reload, show the
// same list again; an address someone typed or edited with nonsense in it lists as if that were absent.

const rows = (page: Page) => page.getByRole("list", { name: "Orders" }).getByRole("listitem");

/** A shopper with no account: their order is cancelled at once, and its refused payment is recorded. */
async function shopperWithCancelledOrder(label: string, description: string) {
  const shopper = await signUp(webA(), label);
  const { order } = await shopper.api.createOrder(7_00, description);
  await expect.poll(async () => (await shopper.api.getOrder(order.id)).order.status).toBe("CANCELLED");
  return shopper;
}

test("the orders page keeps its filters through a reload and Back, beside a userId", async ({ page }) => {
  const shopper = await shopperWithCancelledOrder("url-orders", "Kept lantern");
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await page.goto(`${webA()}/admin/orders`);
  const today = new Date().toISOString().slice(0, 10);
  await page.getByLabel("Status").selectOption("CANCELLED");
  await page.getByLabel("Shopper email (exact)").fill(shopper.email);
  await page.getByLabel("Placed from").fill("2020-01-01");
  await page.getByRole("button", { name: "Show orders" }).click();
  await expect(rows(page)).toHaveCount(1);
  await expect(page).toHaveURL(/status=CANCELLED/);

  const filtered = async () => {
    await expect(page.getByLabel("Status")).toHaveValue("CANCELLED");
    await expect(page.getByLabel("Shopper email (exact)")).toHaveValue(shopper.email);
    await expect(page.getByLabel("Placed from")).toHaveValue("2020-01-01");
    await expect(rows(page)).toHaveCount(1);
    await expect(orderRow(page, "Kept lantern")).toBeVisible();
  };
  await page.reload();
  await filtered();

  // To the shopper's page and Back.
  await orderRow(page, "Kept lantern").getByRole("link", { name: shopper.email }).click();
  await expect(page.getByRole("heading", { name: shopper.email })).toBeVisible();
  await page.goBack();
  await filtered();

  // A userId from a user's page stays beside the filters the admin then picks, and both apply.
  await page.goto(`${webA()}/admin/orders?userId=${shopper.userId}`);
  await expect(page.getByText("Only the orders of")).toBeVisible();
  await page.getByLabel("Status").selectOption("FINISHED");
  await page.getByLabel("Placed to").fill(today);
  await page.getByRole("button", { name: "Show orders" }).click();
  await expect(page.getByText("No orders match these filters.")).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`userId=${shopper.userId}`));
  await page.reload();
  await expect(page.getByLabel("Status")).toHaveValue("FINISHED");
  await expect(page.getByLabel("Placed to")).toHaveValue(today);
  await expect(page.getByText("Only the orders of")).toBeVisible();
  await expect(page.getByText("No orders match these filters.")).toBeVisible();
  // Clearing drops the filters, not the user.
  await page.getByRole("button", { name: "Clear and refresh" }).click();
  await expect(orderRow(page, "Kept lantern")).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`userId=${shopper.userId}`));
  await expect(page).not.toHaveURL(/status=/);
});

test("nonsense in the orders page's address is no filter, not a broken page", async ({ page }) => {
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await page.goto(
    `${webA()}/admin/orders?status=SHIPPED&from=yesterday&to=2026-13-45&userId=not-a-user&email=%20`,
  );
  await expect(page.getByRole("heading", { name: "Orders" })).toBeVisible();
  await expect(page.getByLabel("Status")).toHaveValue("");
  await expect(page.getByLabel("Placed from")).toHaveValue("");
  await expect(page.getByLabel("Placed to")).toHaveValue("");
  await expect(page.getByText("Only the orders of")).toHaveCount(0);
  await expect(rows(page).first()).toBeVisible();
  await expect(page.getByText("Could not load the orders")).toHaveCount(0);
});

test("the payments page keeps its outcome through a reload and Back, beside a userId", async ({ page }) => {
  const shopper = await shopperWithCancelledOrder("url-payments", "Refused bell");
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await page.goto(`${webA()}/admin/payments?userId=${shopper.userId}`);
  const payments = page.getByRole("list", { name: "Payments" }).getByRole("listitem");
  await expect(payments).toHaveCount(1);
  await page.getByLabel("Outcome").selectOption("SUCCEEDED");
  await expect(page.getByText("No payments with this outcome yet.")).toBeVisible();
  await expect(page).toHaveURL(/outcome=SUCCEEDED/);
  await expect(page).toHaveURL(new RegExp(`userId=${shopper.userId}`));
  await page.reload();
  await expect(page.getByLabel("Outcome")).toHaveValue("SUCCEEDED");
  await expect(page.getByText("No payments with this outcome yet.")).toBeVisible();

  await page.getByLabel("Outcome").selectOption("FAILED");
  await expect(payments).toHaveCount(1);
  await page.getByRole("link", { name: "this user" }).click();
  await expect(page.getByRole("heading", { name: shopper.email })).toBeVisible();
  await page.goBack();
  await expect(page.getByLabel("Outcome")).toHaveValue("FAILED");
  await expect(payments).toHaveCount(1);

  // An outcome that does not exist is no filter.
  await page.goto(`${webA()}/admin/payments?userId=${shopper.userId}&outcome=LOST`);
  await expect(page.getByLabel("Outcome")).toHaveValue("");
  await expect(payments).toHaveCount(1);
});

test("the top-up page keeps its search and selected user through a reload and Back", async ({ page }) => {
  const shopper = await signUp(webA(), "url-top-up");
  await shopper.api.createAccount();
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await page.goto(`${webA()}/admin/top-up`);
  await page.getByLabel("Search by email").fill(shopper.email);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("button", { name: `Select ${shopper.email}` }).click();
  await expect(page.getByRole("heading", { name: shopper.email })).toBeVisible();

  const restored = async () => {
    await expect(page.getByLabel("Search by email")).toHaveValue(shopper.email);
    await expect(page.getByRole("button", { name: `Select ${shopper.email}` })).toBeVisible();
    await expect(page.getByRole("heading", { name: shopper.email })).toBeVisible();
    await expect(page.getByTestId("selected-balance")).toHaveText("0,00\u00a0₽");
  };
  await page.reload();
  await restored();
  await page.getByRole("list", { name: "Users" }).getByRole("link", { name: shopper.email }).click();
  await expect(page.getByTestId("user-balance")).toBeVisible();
  await page.goBack();
  await restored();

  // A selected user the search does not list is no selection.
  await page.goto(`${webA()}/admin/top-up?email=${encodeURIComponent(shopper.email)}&user=someone-else`);
  await expect(page.getByRole("button", { name: `Select ${shopper.email}` })).toBeVisible();
  await expect(page.getByTestId("selected-balance")).toHaveCount(0);
});
