export { accountOutputSchema as getAccountOutputSchema } from "./account.schema.ts";
