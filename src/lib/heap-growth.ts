/**
 * How far V8 lets the heap grow past what a full collection left alive before it collects again
 * (HEAP_GROWTH_PERCENT, set once by the server's process: startServer).
 *
 * Why: the write path's batches (a CSV import, a sync) make their garbage while a batch waits on the database, so
 * much of it outlives the young generation and is collected only by a full collection. V8 schedules that one at the
 * live heap times a factor it chooses from its own collection and allocation speeds, up to 4 on a host whose heap
 * limit is 2 GiB or more (here 4 GiB): the process's peak is then the live heap times 4, and a long import reaches
 * it where a short one ends first. Measured with the CSV import through the real server on PostgreSQL (bench
 * csv-import's child, loaded 2-core machine, live heap 53-57 MB throughout): peak RSS 323-333 MiB at 10,000 rows
 * and 406-436 MiB at 100,000 with V8's factor (heap used 163 → 223 MB before a collection); with growth 100 %
 * (factor 2) 280 MiB at 10,000 and 308 MiB at 100,000 (heap used ≤ 118 MB), with 50 % 270 MiB at 100,000. The price
 * is more full collections (9 → 22 over 100,000 rows at 100 %, 42 at 50 %), each marking the live heap. The export
 * and the syncs follow the same rule.
 *
 * Not `--max-old-space-size`, which lowers V8's factor only as a side effect of a lower heap limit: a fixed limit
 * above a container's memory would defeat V8's own sizing to the container. The flag cannot be given in
 * NODE_OPTIONS (Node refuses it there), so the server sets it itself; V8 reads it at every full collection's new
 * limit, so setting it at start takes effect at the first one (checked: the 10,000-row import's heap peak falls
 * from 163 to 114 MB when set this way).
 */
import v8 from 'node:v8';

/** Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own choice. */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
