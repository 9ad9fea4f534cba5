/**
 * Runs `deleteBatch` (one statement deleting at most `batchSize` rows) until a batch comes back short,
 * and returns how many rows went in all. Small batches keep each statement's locks short, so a purge
 * never stalls the traffic on the table it cleans.
 */
export async function deleteInBatches(batchSize: number, deleteBatch: () => PromiseLike<number>) {
  let total = 0;
  for (;;) {
    const deleted = await deleteBatch();
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
