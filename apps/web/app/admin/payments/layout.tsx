import { pageTitle } from "../../../src/page-title.ts";

export const metadata = pageTitle("Payments");
export { TitleOnly as default } from "../../../src/page-title.ts";
