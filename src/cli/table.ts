/** How client commands print resources for people: aligned tables, cells read along attribute paths. */
import type { Row } from './cli-io.js';

/** A cell: text as is, a list of values (emails, phone numbers) as their values, other objects as JSON. */
function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((v) => (v && typeof v === 'object' && 'value' in v ? cellText((v as Row).value) : cellText(v))).join(', ');
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The value at a dotted path (`name.givenName`; a schema URN prefix, `urn:…:User:title`, reads that schema's block). */
export function valueAt(resource: Row, path: string): unknown {
  let target: unknown = resource;
  let rest = path;
  if (/^urn:/i.test(path)) {
    const at = path.lastIndexOf(':');
    target = resource[path.slice(0, at)];
    rest = path.slice(at + 1);
  }
  for (const name of rest.split('.')) {
    if (!target || typeof target !== 'object' || Array.isArray(target)) return undefined;
    const key = Object.keys(target).find((k) => k.toLowerCase() === name.toLowerCase());
    target = key === undefined ? undefined : (target as Row)[key];
  }
  return target;
}

export function table(rows: Row[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => cellText(c in r ? r[c] : valueAt(r, c))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

/** One resource as `attribute  value` rows, nested attributes as dotted paths (schemas left out, meta kept). */
export function attributeRows(resource: Row): Row[] {
  const rows: Row[] = [];
  const walk = (value: unknown, path: string, separator: string) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value as Row)) walk(inner, `${path}${separator}${key}`, '.');
    } else rows.push({ attribute: path, value });
  };
  // Inside an extension's block the path goes on after a colon, as SCIM writes it (urn:…:User:accountAdmin).
  for (const [key, value] of Object.entries(resource)) if (key !== 'schemas') walk(value, key, /^urn:/i.test(key) ? ':' : '.');
  return rows;
}
