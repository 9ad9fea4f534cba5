export { refreshTokenInputSchema as refreshInputSchema } from "./session.schema.ts";
export { sessionOutputSchema as refreshOutputSchema } from "./session.schema.ts";
