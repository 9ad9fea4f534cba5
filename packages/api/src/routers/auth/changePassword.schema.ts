import { z } from "zod";
import { newPasswordSchema, passwordSchema } from "../../identity/schemas.ts";

export { sessionOutputSchema as changePasswordOutputSchema } from "./session.schema.ts";

export const changePasswordInputSchema = z
  .strictObject(
    { currentPassword: passwordSchema, newPassword: newPasswordSchema },
    { error: "must be an object with currentPassword and newPassword" },
  )
  .refine((input) => input.newPassword !== input.currentPassword, {
    path: ["newPassword"],
    error: "must differ from currentPassword",
  });
