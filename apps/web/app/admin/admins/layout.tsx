import { pageTitle } from "../../../src/page-title.ts";

export const metadata = pageTitle("New admin");
export { TitleOnly as default } from "../../../src/page-title.ts";
