import { expect, test } from "@playwright/test";
import { signUp } from "@gozon/system-tests/client";
import { ADMIN, signIn, webA } from "./helpers.ts";

test("the selected account's balance follows top-ups and paid orders made elsewhere, live", async ({
  browser,
}) => {
  const shopper = await signUp(webA(), "live-balance");
  await shopper.api.createAccount();
  const admin = await browser.newContext();
  const page = await admin.newPage();
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await page.goto(`${webA()}/admin/top-up`);
  await page.getByLabel("Search by email").fill(shopper.email);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("button", { name: `Select ${shopper.email}` }).click();
  const balance = page.getByTestId("selected-balance");
  await expect(balance).toHaveText("0,00\u00a0₽");
  const row = page
    .getByRole("list", { name: "Users" })
    .getByRole("listitem")
    .filter({ hasText: shopper.email });

  // The shopper tops up: no search pressed, the page shows it.
  await shopper.api.topUp(30_00);
  await expect(balance).toHaveText("30,00\u00a0₽");
  await expect(row).toContainText("30,00\u00a0₽");

  // An order of theirs is paid from it.
  await shopper.api.createOrder(12_00, "Paid from a watched account");
  await expect(balance).toHaveText("18,00\u00a0₽");

  // Another admin tab tops it up.
  const other = await admin.newPage();
  await other.goto(`${webA()}/admin/users/${shopper.userId}`);
  await other.getByLabel("Top-up amount (₽)").fill("2");
  await other.getByRole("button", { name: "Top up" }).click();
  await expect(other.getByTestId("user-balance")).toHaveText("20,00 ₽");
  await expect(balance).toHaveText("20,00\u00a0₽");
  await admin.close();
});
