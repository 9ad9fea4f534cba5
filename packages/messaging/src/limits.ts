/**
 * Money limits, in minor units (kopecks): 1 … 1 000 000 000 per order or top-up. A module of its own with
 * no imports, so the browser bundle can share it with the server.
 */
export const MIN_AMOUNT = 1;
export const MAX_AMOUNT = 1_000_000_000;
