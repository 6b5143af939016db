/**
 * The child process of test/unit/heap-growth.test.ts: a batch workload whose garbage outlives the young generation
 * (each batch kept for a few rounds, as the write path keeps a batch while the database writes it), optionally under
 * applyHeapGrowth(percent). Prints the live heap after a full collection and the highest heap used seen.
 */
import { applyHeapGrowth } from '../../src/lib/heap-growth.js';

const percent = Number(process.argv[2] ?? '0');
applyHeapGrowth(percent);
const gc = (globalThis as { gc?: () => void }).gc!;
const base: unknown[] = [];
for (let i = 0; i < 200_000; i++) base.push({ i, name: `base ${i}` });
const kept: unknown[][] = [];
let peak = 0;
let live = 0;
for (let round = 0; round < 160; round++) {
  const batch: unknown[] = [];
  for (let i = 0; i < 40_000; i++) batch.push({ i, cells: [`first ${i}`, `last ${i}`], doc: { userName: `user${round}.${i}@example.com` } });
  kept.push(batch);
  if (kept.length > 6) kept.shift();
  await new Promise((resolve) => setImmediate(resolve));
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  if (round === 20) {
    gc();
    live = process.memoryUsage().heapUsed;
  }
}
console.log(JSON.stringify({ live, peak, keep: base.length }));
