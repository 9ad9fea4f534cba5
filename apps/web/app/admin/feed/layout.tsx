import { pageTitle } from "../../../src/page-title.ts";

export const metadata = pageTitle("Live feed");
export { TitleOnly as default } from "../../../src/page-title.ts";
