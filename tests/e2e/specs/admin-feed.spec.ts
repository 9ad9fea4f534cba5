import { expect, test, type Locator } from "@playwright/test";
import { signUp } from "@gozon/system-tests/client";
import { ADMIN, orderRow, signIn, webA } from "./helpers.ts";

/** Where a row's parts sit, relative to the row: the layout, whatever the text in it. */
async function layoutOf(row: Locator) {
  const box = async (locator: Locator) => {
    const found = await locator.boundingBox();
    if (!found) throw new Error("not laid out");
    return found;
  };
  const [whole, description, meta, badge] = await Promise.all([
    box(row),
    box(row.locator(".order-description")),
    box(row.locator(".order-meta")),
    box(row.locator("[data-status]")),
  ]);
  return {
    descriptionLeft: description.x - whole.x,
    metaLeft: meta.x - whole.x,
    metaBelowDescriptionTop: meta.y > description.y,
    badgeRightOfDescription: badge.x > description.x,
  };
}

test("the live feed lays out every row alike: read at its start or arrived live, short or long", async ({
  page,
}) => {
  const shopper = await signUp(webA(), "feed-layout");
  await shopper.api.createAccount();
  await shopper.api.topUp(100_00);
  // Before the feed opens (its first rows, read from the log) and after (arriving live); paid ones and
  // a refused one, whose badge is wider.
  await shopper.api.createOrder(1_00, "Tea");
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await expect(page.getByRole("heading", { name: "Live order feed" })).toBeVisible();
  await expect(orderRow(page, "Tea").locator("[data-status]")).toHaveText("Paid");
  await shopper.api.createOrder(2_00, "Jam");
  await shopper.api.createOrder(500_00, "A rather long description of a very expensive hamper");
  const rows = ["Tea", "Jam", "A rather long description"].map((text) => orderRow(page, text));
  await expect(rows[1]!.locator("[data-status]")).toHaveText("Paid");
  await expect(rows[2]!.locator("[data-status]")).toHaveText("Cancelled · insufficient funds");

  const layouts = await Promise.all(rows.map(layoutOf));
  for (const layout of layouts) {
    // Who and when sit under the description, in every row.
    expect(layout.metaLeft).toBe(layout.descriptionLeft);
    expect(layout.metaBelowDescriptionTop).toBe(true);
    expect(layout.badgeRightOfDescription).toBe(true);
  }
});
