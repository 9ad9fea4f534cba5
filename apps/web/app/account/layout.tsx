import { pageTitle } from "../../src/page-title.ts";

export const metadata = pageTitle("Your account");
export { TitleOnly as default } from "../../src/page-title.ts";
