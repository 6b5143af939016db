/**
 * DN → anchor of the entries a read has seen, so that a manager read before its reports is emitted as its anchor
 * (index.ts). It holds every entry of a full read, so its size is what the connector's memory grows by: a
 * Map<string, string> of normalised DNs and anchors took about 190 bytes an entry (measured: 224 bytes retained per
 * entry over 50,000 entries, the overlap window included), about 180 MiB at 1,000,000 entries. Here an entry
 * takes 24 bytes of a table grown to twice its size when three quarters full (32 to 64 bytes an entry, 48 MiB at
 * 1,000,000 entries): a 52-bit hash of its DN
 * (MD5) as a double, and its anchor packed into 16 bytes when it is a lower-case UUID (entryUUID, objectGUID as the
 * mapper formats it); other anchors are kept as strings beside the table.
 *
 * Two DNs whose hashes are equal (about one chance in 20,000 in a read of 1,000,000 entries) resolve to nothing,
 * as a manager not read yet does: never to the wrong entry.
 */
import { createHash } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A slot whose DN hash two DNs share: it resolves to nothing. */
const AMBIGUOUS = -1;

export class DnIndex {
  private keys = new Float64Array(1024);
  private anchors = new Uint8Array(1024 * 16);
  /** Slot → anchor, for anchors that are not lower-case UUIDs, and AMBIGUOUS marks. */
  private others = new Map<number, string | typeof AMBIGUOUS>();
  private size = 0;

  /** Remembers the anchor of the entry at `normalisedDn`. */
  set(normalisedDn: string, anchor: string): void {
    if ((this.size + 1) * 4 > this.keys.length * 3) this.grow();
    const key = hashOf(normalisedDn);
    const slot = this.slotOf(key);
    if (this.keys[slot] === key) {
      // The same DN again (a read yields an entry once) or another DN with the same hash: unresolvable either way.
      if (this.anchorAt(slot) !== anchor) this.others.set(slot, AMBIGUOUS);
      return;
    }
    this.keys[slot] = key;
    this.size++;
    this.put(slot, anchor);
  }

  /** The anchor of the entry at `normalisedDn`, if this read has seen it. */
  get(normalisedDn: string): string | undefined {
    const key = hashOf(normalisedDn);
    const slot = this.slotOf(key);
    return this.keys[slot] === key ? this.anchorAt(slot) : undefined;
  }

  private put(slot: number, anchor: string): void {
    if (UUID.test(anchor)) this.anchors.set(Buffer.from(anchor.replace(/-/g, ''), 'hex'), slot * 16);
    else this.others.set(slot, anchor);
  }

  private anchorAt(slot: number): string | undefined {
    const other = this.others.get(slot);
    if (other === AMBIGUOUS) return undefined;
    if (other !== undefined) return other;
    const hex = Buffer.from(this.anchors.buffer, this.anchors.byteOffset + slot * 16, 16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** The slot holding `key`, or the empty one where it goes (linear probing; 0 marks an empty slot). */
  private slotOf(key: number): number {
    const mask = this.keys.length - 1;
    let slot = key % this.keys.length;
    while (this.keys[slot] !== 0 && this.keys[slot] !== key) slot = (slot + 1) & mask;
    return slot;
  }

  private grow(): void {
    const { keys, anchors, others } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.anchors = new Uint8Array(keys.length * 2 * 16);
    this.others = new Map();
    for (let old = 0; old < keys.length; old++) {
      const key = keys[old]!;
      if (key === 0) continue;
      const slot = this.slotOf(key);
      this.keys[slot] = key;
      const other = others.get(old);
      if (other !== undefined) this.others.set(slot, other);
      else this.anchors.set(anchors.subarray(old * 16, old * 16 + 16), slot * 16);
    }
  }
}

/** A 52-bit hash of the DN (never 0, which marks an empty slot): an integer a double holds exactly. */
function hashOf(dn: string): number {
  const digest = createHash('md5').update(dn).digest();
  return digest.readUIntBE(0, 6) * 16 + (digest[6]! >> 4) || 1;
}
