/**
 * BIGINT minor units → a JSON-safe integer. Amounts are capped far below 2^53, but a balance is a sum:
 * refuse to round rather than return a wrong number.
 */
export function toSafeNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`amount ${value} exceeds the safe integer range`);
  }
  return Number(value);
}
