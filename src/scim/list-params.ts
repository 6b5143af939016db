import { DomainError } from '../domain/errors.js';
import { attributeList } from './projection.js';

export interface ListParams {
  filter?: string;
  sortBy?: string;
  sortOrder: 'ascending' | 'descending';
  startIndex: number;
  count: number;
  /** RFC 9865: present (possibly '') when cursor pagination is requested. */
  cursor?: string;
  attributes: string[];
  excludedAttributes: string[];
  /**
   * Not in RFC 7644 (whose §3.4.2 lets a provider take parameters of its own): count at most this many matches.
   * The console asks for it, since counting thousands of matches costs more than the page; a response past it says
   * `totalResultsLimited: true` beside totalResults = the limit. Clients that do not ask get the exact count, and
   * so does a list without a filter (the account's user count costs nothing). Users lists only.
   */
  totalResultsLimit?: number;
}

function whole(name: string, raw: unknown): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(value)) throw new DomainError('invalidValue', `${name} must be an integer, got "${String(raw)}"`);
  return value;
}

/**
 * Query parameters of a list (GET) or the body of a POST /.search (RFC 7644 §3.4.2, §3.4.3), normalised:
 * startIndex < 1 → 1, count < 0 → 0, count above maxResults → maxResults.
 */
export function parseListParams(source: Record<string, unknown>, maxResults: number, defaultCount = 100): ListParams {
  // Parameter names are case-insensitive (RFC 7644 §3.4.2): one pass over the given names, then lookups.
  const byName = new Map<string, unknown>();
  for (const key in source) byName.set(key.toLowerCase(), source[key]);
  const get = (name: string): unknown => byName.get(name.toLowerCase());
  const filter = get('filter');
  if (filter !== undefined && typeof filter !== 'string') throw new DomainError('invalidFilter', 'filter must be a string');
  const sortBy = get('sortBy');
  if (sortBy !== undefined && typeof sortBy !== 'string') throw new DomainError('invalidValue', 'sortBy must be an attribute name');
  const rawOrder = get('sortOrder');
  let sortOrder: 'ascending' | 'descending' = 'ascending';
  if (rawOrder !== undefined && rawOrder !== '') {
    const order = String(rawOrder).toLowerCase();
    if (order !== 'ascending' && order !== 'descending') throw new DomainError('invalidValue', 'sortOrder must be "ascending" or "descending"');
    sortOrder = order;
  }
  const startIndex = Math.max(1, whole('startIndex', get('startIndex')) ?? 1);
  const count = Math.min(maxResults, Math.max(0, whole('count', get('count')) ?? Math.min(defaultCount, maxResults)));
  const cursor = get('cursor');
  if (cursor !== undefined && typeof cursor !== 'string') throw new DomainError('invalidCursor', 'cursor must be a string');
  if (cursor !== undefined && get('startIndex') !== undefined) {
    throw new DomainError('invalidValue', 'Use either cursor or startIndex pagination, not both');
  }
  const totalResultsLimit = whole('totalResultsLimit', get('totalResultsLimit'));
  if (totalResultsLimit !== undefined && totalResultsLimit < 1) throw new DomainError('invalidValue', `totalResultsLimit must be at least 1, got ${totalResultsLimit}`);
  // Assigned one by one, not spread from conditional literals: the spreads were nearly all of this function's time,
  // 9–13 µs a call for a `userName eq` lookup against 1.2–1.3 µs now (2,000,000 calls, same loaded machine, A/B).
  const params: ListParams = { sortOrder, startIndex, count, attributes: attributeList(get('attributes')), excludedAttributes: attributeList(get('excludedAttributes')) };
  if (typeof filter === 'string' && filter.trim() !== '') params.filter = filter;
  if (typeof sortBy === 'string' && sortBy.trim() !== '') params.sortBy = sortBy.trim();
  if (cursor !== undefined) params.cursor = cursor;
  if (totalResultsLimit !== undefined) params.totalResultsLimit = totalResultsLimit;
  return params;
}
