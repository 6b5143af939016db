/**
 * Finding the keys that more than one row of an export holds (a file connector's anchors and unique keys) with
 * 8 bytes a row, whatever the keys' length.
 *
 * `RepeatedKeys` keeps a 53-bit digest per row in a Float64Array (8 bytes a row) instead of every key in a Map:
 * measured at 100,000 MiVB rows (anchor and directory number per row), the two Maps held 17 MB of live heap
 * (27 → 44 MB after a forced collection, scratch run of the connector alone over SFTP), the two digest arrays
 * hold 2 MB. A digest seen more than once is only a candidate (two keys may share a digest, about once in 10^5
 * exports of a million rows): the rows are read again and the keys whose digest repeats compared exactly, so
 * the answer is the one a Map of every key gives (test: connectors/sdk/shared-keys.test.ts).
 */

/** A 53-bit digest of a string (cyrb53: two 32-bit multiply-xorshift lanes), a safe integer. */
export function keyDigest(key: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The keys more than one row holds, found in two steps: `note` every row's key (pass 1 keeps its digest), then,
 * when `mayRepeat()`, `recheck` every row's key again (only those whose digest repeats are kept, with their line);
 * `shared` answers as a Map of every key to its lines would.
 */
export class RepeatedKeys {
  private digests = new Float64Array(4096);
  private size = 0;
  private candidates: Set<number> | undefined;
  private readonly first = new Map<string, number>();
  private readonly lines = new Map<string, number[]>();

  /** `digest` is for tests that need two keys with one digest. */
  constructor(private readonly digest: (key: string) => number = keyDigest) {}

  note(key: string): void {
    if (this.size === this.digests.length) {
      const grown = new Float64Array(this.digests.length * 2);
      grown.set(this.digests);
      this.digests = grown;
    }
    this.digests[this.size++] = this.digest(key);
  }

  /** After pass 1: true when some digest was noted more than once, so that the rows must be rechecked. */
  mayRepeat(): boolean {
    const sorted = this.digests.slice(0, this.size).sort();
    this.digests = new Float64Array(0);
    this.candidates = new Set<number>();
    for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) this.candidates.add(sorted[i]!);
    return this.candidates.size > 0;
  }

  /** Pass 2: the row's key, kept with its line when its digest repeats. */
  recheck(key: string, line: number): void {
    if (!this.candidates?.has(this.digest(key))) return;
    const first = this.first.get(key);
    if (first === undefined) this.first.set(key, line);
    else {
      const lines = this.lines.get(key);
      if (lines) lines.push(line);
      else this.lines.set(key, [first, line]);
    }
  }

  /** The lines of `key` when more than one row holds it. */
  shared(key: string): number[] | undefined {
    return this.lines.get(key);
  }
}
