import { z } from "zod";
import { required, uuidInputSchema } from "../../inputs.ts";

export { orderOutputSchema as byIdOutputSchema } from "./order.schema.ts";

export const byIdInputSchema = z.strictObject(
  { id: uuidInputSchema("an order id (a UUID)") },
  { error: required("an object with id") },
);
