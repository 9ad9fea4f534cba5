import { pageTitle } from "../../../src/page-title.ts";

export const metadata = pageTitle("Top up accounts");
export { TitleOnly as default } from "../../../src/page-title.ts";
