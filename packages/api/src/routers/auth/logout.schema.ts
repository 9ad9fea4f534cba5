import { z } from "zod";

export { refreshTokenInputSchema as logoutInputSchema } from "./session.schema.ts";

export const logoutOutputSchema = z.object({ ok: z.literal(true) });
