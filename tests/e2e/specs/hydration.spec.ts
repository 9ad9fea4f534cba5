import { expect, test, type Page } from "@playwright/test";
import { ADMIN, register, signIn, webA } from "./helpers.ts";

/**
 * React hydrates a page's Suspense boundaries after the rest of it (the header), at idle priority, and the
 * header starts reading the session as soon as it is hydrated. A page must not render what that read
 * brought before its own hydration (the signed-in view over the server's "Loading…"), or React throws the
 * server's HTML away: minified error #418, seen in about 2 loads of 40. A slowed processor (a busy phone,
 * a loaded machine) widens the gap: at 6× it showed in 2–4 of 16–32 loads of the pages with a boundary
 * (the shop, the admin's orders and payments); the shop's code held back showed it at every load.
 */
function hydrationErrors(page: Page) {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && /#418|#423|#425|hydrat/i.test(message.text()))
      errors.push(`${new URL(page.url()).pathname}: ${message.text()}`);
  });
  page.on("pageerror", (error) => {
    if (/#418|#423|#425|hydrat/i.test(error.message))
      errors.push(`${new URL(page.url()).pathname}: ${error.message}`);
  });
  return errors;
}

async function slowProcessor(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 6 });
}

const LOADS = 8;
// Eight rounds of loads on a slowed processor.
test.describe.configure({ timeout: 120_000 });

test("the shop's pages hydrate without a mismatch, load after load", async ({ page }) => {
  const errors = hydrationErrors(page);
  const email = await register(page, webA());
  await slowProcessor(page);
  for (let load = 0; load < LOADS; load++) {
    for (const [path, heading] of [
      ["/", "Shop"],
      ["/account", "Your account"],
    ] as const) {
      await page.goto(`${webA()}${path}`);
      await expect(page.getByRole("heading", { name: heading })).toBeVisible();
    }
  }
  await expect(page.getByText(email, { exact: true })).toBeVisible();
  expect(errors).toEqual([]);
});

test("the admin's pages hydrate without a mismatch, load after load", async ({ page }) => {
  const errors = hydrationErrors(page);
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await slowProcessor(page);
  for (let load = 0; load < LOADS; load++) {
    for (const [path, heading] of [
      ["/admin/orders", "Orders"],
      ["/admin/payments", "Payments"],
      ["/admin/top-up", "Top up an account"],
    ] as const) {
      await page.goto(`${webA()}${path}`);
      await expect(page.getByRole("heading", { name: heading, exact: true })).toBeVisible();
    }
  }
  expect(errors).toEqual([]);
});

test("a page whose code arrives after its session is known still hydrates without a mismatch", async ({
  page,
}) => {
  const errors = hydrationErrors(page);
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  // Each page's own code, told by a text only it has, comes 1.5 s late: by then the header has hydrated
  // and read the session, which is what a slow phone or a loaded machine does now and then.
  let marker = "";
  await page.route(/\/_next\/static\/chunks\/.*\.js/, async (route) => {
    const response = await route.fetch();
    const body = await response.text();
    if (marker && body.includes(marker)) await new Promise((resolve) => setTimeout(resolve, 1_500));
    await route.fulfill({ response, body });
  });
  for (const [path, heading, text] of [
    ["/", "Shop", "Open account"],
    ["/account", "Your account", "Change your password"],
    ["/admin/orders", "Orders", "Show orders"],
    ["/admin/payments", "Payments", "Any outcome"],
    ["/admin/top-up", "Top up an account", "Search by email"],
    ["/admin/feed", "Live order feed", "Rows on this page by status"],
    ["/admin/admins", "Create an admin", "Create admin"],
  ] as const) {
    marker = text;
    await page.goto(`${webA()}${path}`);
    await expect(page.getByRole("heading", { name: heading, exact: true })).toBeVisible();
  }
  expect(errors).toEqual([]);
});
