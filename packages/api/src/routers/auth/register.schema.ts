import { newCredentialsSchema } from "../../identity/schemas.ts";

export { sessionOutputSchema as registerOutputSchema } from "./session.schema.ts";

export const registerInputSchema = newCredentialsSchema;
