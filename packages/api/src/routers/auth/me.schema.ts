import { z } from "zod";
import { publicUserSchema } from "../../identity/schemas.ts";

export const meOutputSchema = z.object({ user: publicUserSchema });
