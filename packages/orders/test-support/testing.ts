// Helpers for tests of code that reads orders.

/**
 * Orders as every listing returns them: newest first, and by id (descending) among orders created in the
 * same millisecond, which `created_at` cannot tell apart.
 */
export function newestFirst<O extends { id: string; createdAt: string }>(orders: O[]): O[] {
  return [...orders].sort((a, b) =>
    a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
  );
}
