import { credentialsSchema } from "../../identity/schemas.ts";

export { sessionOutputSchema as loginOutputSchema } from "./session.schema.ts";

export const loginInputSchema = credentialsSchema;
