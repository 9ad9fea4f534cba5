import { pageTitle } from "../../../../src/page-title.ts";

export const metadata = pageTitle("User");
export { TitleOnly as default } from "../../../../src/page-title.ts";
