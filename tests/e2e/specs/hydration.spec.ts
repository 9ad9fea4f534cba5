import { expect, test, type Page } from "@playwright/test";
import { ADMIN, signIn, webA } from "./helpers.ts";

/**
 * React hydrates a page's Suspense boundaries after the rest of it (the header), at idle priority, and the
 * header starts reading the session as soon as it is hydrated. A page must not render what that read
 * brought before its own hydration (the signed-in view over the server's "Loading…"), or React throws the
 * server's HTML away: minified error #418, seen in about 2 loads of 40. A slowed processor (a busy phone,
 * a loaded machine) widens the gap: at 6× it showed in 2–4 of 16–32 loads of the pages with a boundary
 * (the shop, the admin's orders and payments). Holding a page's code back shows it at every load, so the
 * test below does that rather than count mismatches over many slowed loads (useRequireUser holds the
 * page back while it hydrates, for every page alike).
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
