import { ConnectorError } from './errors.js';

/**
 * The standard string form of a Microsoft GUID (an AD objectGUID, an Entra onPremisesImmutableId decoded): the first
 * three groups are little-endian (`{data1 u32 LE}-{data2 u16 LE}-{data3 u16 LE}-{data4[0..1]}-{data4[2..7]}`), lower case.
 * Shared so that an Active Directory anchor and the immutable id Entra holds for the same object compare equal.
 */
export function formatGuid(bytes: Buffer): string {
  if (bytes.length !== 16) throw new ConnectorError('protocol', `a GUID has 16 bytes, got ${bytes.length}`);
  const hex = (start: number, end: number, reverse: boolean): string => {
    const part = Buffer.from(bytes.subarray(start, end));
    return (reverse ? part.reverse() : part).toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

/** The GUID's bytes, for filters and fixtures (inverse of `formatGuid`). */
export function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new ConnectorError('protocol', `"${guid}" is not a GUID`);
  const b = Buffer.from(hex, 'hex');
  return Buffer.concat([b.subarray(0, 4).reverse(), b.subarray(4, 6).reverse(), b.subarray(6, 8).reverse(), b.subarray(8)]);
}
