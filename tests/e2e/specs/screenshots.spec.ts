// Not part of the suite's assertions: regenerates the README's screenshots (`npm run screenshots -w @gozon/e2e`).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "@playwright/test";
import { ADMIN, openAccountAndTopUp, placeOrder, register, signIn, uniqueEmail, webA } from "./helpers.ts";

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../docs/screenshots");

test.skip(!process.env.GOZON_SCREENSHOTS, "set GOZON_SCREENSHOTS=1 to regenerate the README screenshots");

test("README screenshots", async ({ browser }) => {
  const shopper = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await shopper.newPage();
  const email = await register(page, webA(), uniqueEmail("anna"));
  await openAccountAndTopUp(page, "1 000,00");
  await placeOrder(page, "250,00", "New Year tree");
  await expect(page.getByRole("alert").filter({ hasText: "New Year tree" })).toBeVisible();
  await placeOrder(page, "2 000,00", "Fireworks");
  await expect(page.getByRole("alert").filter({ hasText: "Fireworks" })).toBeVisible();
  // The toasts would cover the statement: close them (the order page shows the same news).
  for (const close of await page.getByRole("button", { name: "close" }).all()) await close.click();
  await expect(page.locator(".Toastify__toast")).toHaveCount(0);
  await page.screenshot({ path: `${out}/shop.png`, fullPage: true });

  const phone = await browser.newContext({ viewport: { width: 375, height: 740 } });
  const phonePage = await phone.newPage();
  await signIn(phonePage, webA(), email);
  await expect(phonePage.getByText("Fireworks")).toBeVisible();
  await expect(phonePage.getByRole("list", { name: "Statement" }).getByRole("listitem")).toHaveCount(2);
  await phonePage.screenshot({ path: `${out}/shop-phone.png`, fullPage: true });

  // An order's own page, reached from its debit in the statement: placed, then paid.
  await page
    .getByRole("list", { name: "Statement" })
    .getByRole("listitem")
    .filter({ hasText: "−250,00" })
    .getByRole("link")
    .click();
  await expect(page.getByRole("list", { name: "Order history" })).toContainText("Paid");
  await page.screenshot({ path: `${out}/order.png`, fullPage: true });
  await phonePage.goto(page.url());
  await expect(phonePage.getByRole("list", { name: "Order history" })).toContainText("Paid");
  await phonePage.screenshot({ path: `${out}/order-phone.png`, fullPage: true });
  await page.goto(webA());

  const admin = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const adminPage = await admin.newPage();
  await signIn(adminPage, webA(), ADMIN.email, ADMIN.password);
  await expect(adminPage.getByRole("heading", { name: "Live order feed" })).toBeVisible();
  await placeOrder(page, "99,90", "Tangerines");
  await expect(page.getByRole("alert").filter({ hasText: "Tangerines" })).toBeVisible();
  await placeOrder(page, "10,00", "Candles");
  await expect(adminPage.getByText("Candles")).toBeVisible();
  await adminPage.screenshot({ path: `${out}/admin-feed.png` });

  await adminPage.getByRole("link", { name: "Top up accounts" }).click();
  await adminPage.getByLabel("Search by email").fill(email);
  await adminPage.getByRole("button", { name: "Search" }).click();
  await adminPage.getByRole("button", { name: `Select ${email}` }).click();
  await adminPage.getByLabel("Top-up amount (₽)").fill("500");
  await adminPage.getByRole("button", { name: "Top up" }).click();
  await expect(adminPage.getByTestId("selected-balance")).toBeVisible();
  await adminPage.screenshot({ path: `${out}/admin-top-up.png` });

  await adminPage.getByRole("link", { name: "Orders", exact: true }).click();
  await adminPage.getByLabel("Status").selectOption("CANCELLED");
  await adminPage.getByRole("button", { name: "Show orders" }).click();
  await expect(adminPage.getByText("Fireworks")).toBeVisible();
  await adminPage.screenshot({ path: `${out}/admin-orders.png`, fullPage: true });
  const adminPhone = await admin.newPage();
  await adminPhone.setViewportSize({ width: 375, height: 740 });
  await adminPhone.goto(`${webA()}/admin/orders`);
  await expect(adminPhone.getByText("Fireworks")).toBeVisible();
  await adminPhone.screenshot({ path: `${out}/admin-orders-phone.png`, fullPage: true });
  await adminPhone.close();

  await adminPage.getByRole("link", { name: email }).first().click();
  await expect(adminPage.getByTestId("user-balance")).toBeVisible();
  await adminPage.screenshot({ path: `${out}/admin-user.png`, fullPage: true });

  await adminPage.getByRole("link", { name: "Payments", exact: true }).click();
  await expect(adminPage.getByText("insufficient funds").first()).toBeVisible();
  await adminPage.screenshot({ path: `${out}/admin-payments.png`, fullPage: true });

  await adminPage.getByRole("link", { name: "New admin" }).click();
  await adminPage.getByLabel("New admin's email").fill(uniqueEmail("boris"));
  await adminPage.getByLabel("New admin's password").fill("a-long-password");
  await adminPage.getByRole("button", { name: "Create admin" }).click();
  await expect(adminPage.getByRole("status")).toContainText("created");
  await adminPage.screenshot({ path: `${out}/admin-new-admin.png` });
});
