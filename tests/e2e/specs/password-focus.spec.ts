import { expect, test } from "@playwright/test";
import { ADMIN, PASSWORD, register, signIn, uniqueEmail, webA } from "./helpers.ts";

test("a refused password change puts the keyboard on the field at fault", async ({ page }) => {
  await register(page, webA());
  await page.goto(`${webA()}/account`);
  const current = page.getByLabel("Current password");
  const again = page.getByLabel("New password again");
  await current.fill(PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill("another-password-1");
  await again.fill("another-password-2");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("The two new passwords differ")).toBeVisible();
  await expect(again).toBeFocused();

  // Refused by the server (the button was disabled meanwhile): on the current password, ready to retype.
  await current.fill("not-my-password");
  await again.fill("another-password-1");
  await again.press("Enter");
  await expect(page.getByText("Current password is not this account's password")).toBeVisible();
  await expect(current).toBeFocused();
});

test("a refused new admin puts the keyboard on the field at fault", async ({ page }) => {
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await page.goto(`${webA()}/admin/admins`);
  await page.getByLabel("New admin's email").fill(uniqueEmail("admin"));
  await page.getByLabel("New admin's password").fill("short");
  await page.getByRole("button", { name: "Create admin" }).click();
  await expect(page.locator("#admin-password-error")).toBeVisible();
  await expect(page.getByLabel("New admin's password")).toBeFocused();
});
