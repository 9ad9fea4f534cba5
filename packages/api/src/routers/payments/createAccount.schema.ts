export { accountOutputSchema as createAccountOutputSchema } from "./account.schema.ts";
