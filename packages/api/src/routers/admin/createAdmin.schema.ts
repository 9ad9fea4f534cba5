import { z } from "zod";
import { newCredentialsSchema, publicUserSchema } from "../../identity/schemas.ts";

export const createAdminInputSchema = newCredentialsSchema;

export const createAdminOutputSchema = z.object({ user: publicUserSchema });
