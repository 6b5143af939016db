/**
 * The LDAP / Active Directory connector.
 *
 * Full read: a paged search of `baseDn` with `filter`, yielded page by page, ending with a state
 * checkpoint marked `complete` (the engine may then decide deletions).
 *
 * Incremental read, OpenLDAP: entries with `modifyTimestamp >=` the highest one seen minus
 * `overlapSeconds` (modifyTimestamp has one-second resolution and a change can become visible
 * after a later one). Entries re-read in the overlap whose `entryCSN` is unchanged since they were
 * emitted are skipped, so an unchanged directory yields nothing. OpenLDAP keeps no trace of deleted
 * entries, so deletions are only found by a full read (schedule one periodically).
 *
 * Incremental read, Active Directory: entries with `uSNChanged` above the DC's
 * `highestCommittedUSN` read at the start of the previous run; tombstones (`isDeleted=TRUE`, read
 * with the Show Deleted control) become `{ type: 'delete' }`. USNs are per DC: when the DC's
 * `invocationId` or `dsServiceName` differs from the state's, the read is a full read. Disabled
 * accounts are records with `active: false`, not deletions. Objects moved out of scope are found
 * by a full read.
 *
 * Incremental read, Active Directory with `changeTracking: "dirsync"`: the DirSync control over the
 * domain's naming context (DirSync takes no other base) with the cookie of the previous read. A full
 * read is DirSync from an empty cookie, keeping the entries under `baseDn`. An incremental one gets
 * only the attributes that changed, so each changed entry under `baseDn` is read again whole (by
 * objectGUID, with `filter`); a changed entry now outside `baseDn` (moved out) and a tombstone whose
 * lastKnownParent is inside it become `{ type: 'delete' }`.
 *
 * A state written for another flavor, base DN, filter, scope or attribute list also turns an
 * incremental read into a full one. Checkpoints are yielded only at the end of a read, because LDAP
 * returns entries in no particular order, so no cursor is safe before the last page.
 */
import { createHash } from 'node:crypto';
import type { Connector, ConnectorLogger, JsonValue, ReadContext, ReadRequest, SourceItem } from '../sdk/index.js';
import { ConnectorError } from '../sdk/index.js';
import { ldapConfigSchema, parseLdapConfig, requestedAttributes, type LdapConfig } from './config.js';
import { dirSyncResponses, filterWithAnyOf, openLdapSession, readEntry, searchPages, showDeletedControl, type LdapSession } from './ldap-client.js';
import { DnIndex } from './dn-index.js';
import { anchorOf, entryValues, formatGuid, guidBytes, mapLdapEntry, normaliseDn, type LdapEntry } from './ldap-mapper.js';

export { ldapConfigSchema, parseLdapConfig, type LdapConfig } from './config.js';

/** At most this many anchors are remembered from the overlap window; beyond it they are simply re-read. */
const MAX_OVERLAP_SEEN = 10_000;

export interface OpenLdapState {
  v: 1;
  flavor: 'openldap';
  scopeKey: string;
  /** Highest modifyTimestamp seen (GeneralizedTime), null when no entry had one. */
  modifyTimestamp: string | null;
  /** anchor → entryCSN (or modifyTimestamp) of entries inside the overlap window, already emitted. */
  seen: Record<string, string>;
}

export interface AdState {
  v: 1;
  flavor: 'ad';
  scopeKey: string;
  dsServiceName: string;
  invocationId: string;
  /** Decimal string (USNs are 64-bit). */
  highestCommittedUSN: string;
}

export interface AdDirSyncState {
  v: 1;
  flavor: 'ad';
  method: 'dirsync';
  scopeKey: string;
  /** Base64 DirSync cookie of the last response. */
  cookie: string;
}

export const ldapConnector: Connector<LdapConfig> = {
  kind: 'ldap',
  configSchema: ldapConfigSchema,
  parseConfig: parseLdapConfig,
  check,
  read,
};

async function check(config: LdapConfig): Promise<void> {
  const session = await openLdapSession(config);
  try {
    const base = await readEntry(session, config.baseDn, ['objectClass']);
    if (!base) throw new ConnectorError('config', `baseDn "${config.baseDn}" does not exist on ${config.url} (or "${config.bindDn}" cannot see it)`);
    if (config.flavor === 'ad' && config.changeTracking === 'dirsync') {
      // One DirSync request for nothing: the DC checks the replication right all the same, so a missing right shows
      // here and not in the first run.
      const responses = dirSyncResponses(session, { namingContext: await namingContextOf(session, config), filter: '(&(objectClass=user)(!(objectClass=user)))', attributes: ['objectGUID'] });
      await responses.next();
      await responses.return(undefined);
    }
  } finally {
    await session.close();
  }
}

async function* read(config: LdapConfig, request: ReadRequest, ctx: ReadContext = {}): AsyncGenerator<SourceItem> {
  ctx.signal?.throwIfAborted();
  const session = await openLdapSession(config);
  const onAbort = (): void => void session.close();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (config.flavor === 'openldap') yield* readOpenLdap(session, config, request, ctx);
    else if (config.changeTracking === 'dirsync') yield* readAdDirSync(session, config, request, ctx);
    else yield* readAd(session, config, request, ctx);
  } catch (error) {
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    throw error;
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
    await session.close();
  }
}

/** Identifies what a state covers: a state for another scope cannot drive an incremental read. */
export function scopeKeyOf(config: LdapConfig): string {
  const attributes = requestedAttributes(config).map((a) => a.toLowerCase()).sort();
  const key = JSON.stringify([config.flavor, normaliseDn(config.baseDn), config.filter, config.scope, attributes]);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** DN → anchor of entries seen in this read, to emit a manager as an anchor when possible. */
function dnIndex(config: LdapConfig): { remember(entry: LdapEntry, anchor: string): void; resolve(dn: string): string | undefined } {
  if (config.attributeMap.manager.length === 0) return { remember: () => undefined, resolve: () => undefined };
  const byDn = new DnIndex();
  return {
    remember: (entry, anchor) => byDn.set(normaliseDn(entry.dn), anchor),
    resolve: (dn) => byDn.get(normaliseDn(dn)),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fullReadBecause(logger: ConnectorLogger | undefined, reason: string): undefined {
  logger?.warn({ connector: 'ldap', reason }, 'incremental read not possible, reading everything');
  return undefined;
}

// ---- OpenLDAP ---------------------------------------------------------------------------------

function previousOpenLdapState(request: ReadRequest, scopeKey: string, logger?: ConnectorLogger): OpenLdapState | undefined {
  if (request.mode !== 'incremental') return undefined;
  const state = request.state;
  if (!isRecord(state) || state.v !== 1 || state.flavor !== 'openldap' || !isRecord(state.seen)) {
    return fullReadBecause(logger, 'the state was not written by an OpenLDAP read of this connector version');
  }
  if (state.scopeKey !== scopeKey) return fullReadBecause(logger, 'baseDn, filter, scope or attributeMap changed since the state was written');
  if (typeof state.modifyTimestamp !== 'string' || Number.isNaN(parseGeneralizedTime(state.modifyTimestamp))) {
    return fullReadBecause(logger, 'the previous read saw no modifyTimestamp');
  }
  return state as unknown as OpenLdapState;
}

async function* readOpenLdap(session: LdapSession, config: LdapConfig, request: ReadRequest, ctx: ReadContext): AsyncGenerator<SourceItem> {
  const scopeKey = scopeKeyOf(config);
  const previous = previousOpenLdapState(request, scopeKey, ctx.logger);
  const overlapMs = config.overlapSeconds * 1000;
  let filter = config.filter;
  if (previous?.modifyTimestamp) {
    const since = formatGeneralizedTime(parseGeneralizedTime(previous.modifyTimestamp) - overlapMs);
    filter = `(&${config.filter}(modifyTimestamp>=${since}))`;
  }
  const index = dnIndex(config);
  const window = new OverlapWindow(overlapMs);
  let withoutTimestamp = 0;
  for await (const page of searchPages(session, { baseDn: config.baseDn, filter, scope: config.scope, attributes: requestedAttributes(config), pageSize: config.pageSize })) {
    ctx.signal?.throwIfAborted();
    for (const entry of page) {
      const anchor = anchorOf(entry, config.attributeMap);
      index.remember(entry, anchor);
      const modifyTimestamp = firstText(entry, 'modifyTimestamp');
      const marker = firstText(entry, 'entryCSN') ?? modifyTimestamp;
      const ms = modifyTimestamp === undefined ? Number.NaN : parseGeneralizedTime(modifyTimestamp);
      if (Number.isNaN(ms) || marker === undefined) withoutTimestamp++;
      else window.add(anchor, ms, marker);
      if (previous && marker !== undefined && previous.seen[anchor] === marker) continue;
      yield mapLdapEntry(entry, config, index.resolve);
    }
  }
  if (withoutTimestamp > 0) {
    ctx.logger?.warn({ connector: 'ldap', entries: withoutTimestamp }, 'entries without modifyTimestamp/entryCSN: incremental reads cannot see their changes');
  }
  const highest = window.highest ?? (previous?.modifyTimestamp ? parseGeneralizedTime(previous.modifyTimestamp) : undefined);
  const state: OpenLdapState = {
    v: 1,
    flavor: 'openldap',
    scopeKey,
    modifyTimestamp: highest === undefined ? null : formatGeneralizedTime(highest),
    seen: window.seen(),
  };
  yield { type: 'state', state: state as unknown as JsonValue, complete: previous === undefined };
}

/** The highest timestamp seen, and the anchors (with their change marker) within `overlapMs` of it. */
class OverlapWindow {
  highest: number | undefined;
  private readonly entries = new Map<string, { ms: number; marker: string }>();

  constructor(private readonly overlapMs: number) {}

  add(anchor: string, ms: number, marker: string): void {
    if (this.highest === undefined || ms > this.highest) {
      this.highest = ms;
      for (const [key, entry] of this.entries) if (entry.ms < ms - this.overlapMs) this.entries.delete(key);
    }
    if (ms >= this.highest - this.overlapMs && this.entries.size < MAX_OVERLAP_SEEN) this.entries.set(anchor, { ms, marker });
  }

  seen(): Record<string, string> {
    return Object.fromEntries([...this.entries].map(([anchor, { marker }]) => [anchor, marker]));
  }
}

/** GeneralizedTime (`20240131235959Z`, optional fraction, optional ±hhmm) → epoch ms; NaN if unreadable. */
export function parseGeneralizedTime(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,](\d+))?(Z|[+-]\d{4})$/.exec(value.trim());
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  let time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone !== 'Z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    time -= sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(3, 5))) * 60_000;
  }
  return time;
}

/** Epoch ms → GeneralizedTime in whole seconds, rounded down (`20240131235959Z`). */
export function formatGeneralizedTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

function firstText(entry: LdapEntry, attribute: string): string | undefined {
  const value = entryValues(entry, attribute)[0];
  return value === undefined ? undefined : typeof value === 'string' ? value : value.toString('utf8');
}

// ---- Active Directory ---------------------------------------------------------------------------

interface DcIdentity {
  dsServiceName: string;
  invocationId: string;
  highestCommittedUSN: bigint;
  defaultNamingContext: string;
}

async function readDcIdentity(session: LdapSession, config: LdapConfig): Promise<DcIdentity> {
  const root = await readEntry(session, '', ['dsServiceName', 'highestCommittedUSN', 'defaultNamingContext']);
  const dsServiceName = root && firstText(root, 'dsServiceName');
  const usn = root && firstText(root, 'highestCommittedUSN');
  if (!root || !dsServiceName || !usn || !/^\d+$/.test(usn)) {
    throw new ConnectorError('protocol', `${config.url} has no dsServiceName/highestCommittedUSN in its root DSE: is it an Active Directory DC (flavor "ad")?`);
  }
  const settings = await readEntry(session, dsServiceName, ['invocationId'], ['invocationId']);
  const invocationId = settings ? entryValues(settings, 'invocationId')[0] : undefined;
  if (!Buffer.isBuffer(invocationId) || invocationId.length !== 16) {
    throw new ConnectorError('protocol', `cannot read the invocationId of ${dsServiceName} on ${config.url}`);
  }
  return {
    dsServiceName,
    invocationId: formatGuid(invocationId),
    highestCommittedUSN: BigInt(usn),
    defaultNamingContext: firstText(root, 'defaultNamingContext') ?? config.baseDn,
  };
}

function previousAdState(request: ReadRequest, scopeKey: string, dc: DcIdentity, logger?: ConnectorLogger): AdState | undefined {
  if (request.mode !== 'incremental') return undefined;
  const state = request.state;
  if (!isRecord(state) || state.v !== 1 || state.flavor !== 'ad' || typeof state.highestCommittedUSN !== 'string' || !/^\d+$/.test(state.highestCommittedUSN)) {
    return fullReadBecause(logger, 'the state was not written by an Active Directory read of this connector version');
  }
  if (state.scopeKey !== scopeKey) return fullReadBecause(logger, 'baseDn, filter, scope or attributeMap changed since the state was written');
  if (state.invocationId !== dc.invocationId || state.dsServiceName !== dc.dsServiceName) {
    return fullReadBecause(logger, `the domain controller changed (${String(state.dsServiceName)} → ${dc.dsServiceName}); USNs are per DC`);
  }
  return state as unknown as AdState;
}

/** The DN one level up (`CN=a,OU=b,DC=c` → `OU=b,DC=c`). */
function parentOf(dn: string): string {
  const comma = dn.search(/(?<!\\),/);
  return comma < 0 ? '' : dn.slice(comma + 1);
}

/** A DN without the `<GUID=…>;<SID=…>;` prefix some DCs put on DN-valued attributes. */
function plainDn(dn: string): string {
  return dn.replace(/^(<[^>]*>;)+/, '');
}

function withinScope(config: LdapConfig, parentDn: string | undefined): boolean {
  if (!parentDn) return true; // unknown parent: let the engine ignore anchors it does not know
  const parent = normaliseDn(parentDn);
  const base = normaliseDn(config.baseDn);
  return config.scope === 'one' ? parent === base : parent === base || parent.endsWith(`,${base}`);
}

async function* readAd(session: LdapSession, config: LdapConfig, request: ReadRequest, ctx: ReadContext): AsyncGenerator<SourceItem> {
  const scopeKey = scopeKeyOf(config);
  const dc = await readDcIdentity(session, config);
  const previous = previousAdState(request, scopeKey, dc, ctx.logger);
  const since = previous ? BigInt(previous.highestCommittedUSN) + 1n : undefined;
  const filter = since === undefined ? config.filter : `(&${config.filter}(uSNChanged>=${since}))`;
  const anchorAttribute = config.attributeMap.anchor[0]!;
  const binaryAttributes = [anchorAttribute];
  const index = dnIndex(config);

  for await (const page of searchPages(session, {
    baseDn: config.baseDn,
    filter,
    scope: config.scope,
    attributes: requestedAttributes(config),
    binaryAttributes,
    pageSize: config.pageSize,
  })) {
    ctx.signal?.throwIfAborted();
    for (const entry of page) {
      const record = mapLdapEntry(entry, config, index.resolve);
      index.remember(entry, record.anchor);
      yield record;
    }
  }

  if (since !== undefined) {
    for await (const page of searchPages(session, {
      baseDn: dc.defaultNamingContext,
      filter: `(&(isDeleted=TRUE)(uSNChanged>=${since}))`,
      scope: 'sub',
      attributes: [anchorAttribute, 'lastKnownParent', 'isDeleted'],
      binaryAttributes,
      pageSize: config.pageSize,
      controls: [showDeletedControl()],
    })) {
      ctx.signal?.throwIfAborted();
      for (const entry of page) {
        const parent = firstText(entry, 'lastKnownParent');
        if (!withinScope(config, parent === undefined ? undefined : plainDn(parent))) continue;
        yield { type: 'delete', anchor: anchorOf(entry, config.attributeMap) };
      }
    }
  }

  const state: AdState = {
    v: 1,
    flavor: 'ad',
    scopeKey,
    dsServiceName: dc.dsServiceName,
    invocationId: dc.invocationId,
    highestCommittedUSN: dc.highestCommittedUSN.toString(),
  };
  yield { type: 'state', state: state as unknown as JsonValue, complete: previous === undefined };
}

// ---- Active Directory, DirSync ------------------------------------------------------------------

function previousDirSyncState(request: ReadRequest, scopeKey: string, logger?: ConnectorLogger): AdDirSyncState | undefined {
  if (request.mode !== 'incremental') return undefined;
  const state = request.state;
  if (!isRecord(state) || state.v !== 1 || state.flavor !== 'ad' || state.method !== 'dirsync' || typeof state.cookie !== 'string' || state.cookie === '') {
    return fullReadBecause(logger, 'the state was not written by a DirSync read of this connector version');
  }
  if (state.scopeKey !== scopeKey) return fullReadBecause(logger, 'baseDn, filter, scope or attributeMap changed since the state was written');
  return state as unknown as AdDirSyncState;
}

/** The naming context holding `baseDn` (the longest one it ends with), as DirSync needs it for its base. */
async function namingContextOf(session: LdapSession, config: LdapConfig): Promise<string> {
  const root = await readEntry(session, '', ['namingContexts', 'defaultNamingContext']);
  const contexts = root ? entryValues(root, 'namingContexts').map((v) => (typeof v === 'string' ? v : v.toString('utf8'))) : [];
  const base = normaliseDn(config.baseDn);
  const holding = contexts.filter((nc) => base === normaliseDn(nc) || base.endsWith(`,${normaliseDn(nc)}`)).sort((a, b) => b.length - a.length);
  if (!holding[0]) throw new ConnectorError('config', `baseDn "${config.baseDn}" is in none of the naming contexts of ${config.url} (${contexts.join('; ') || 'none listed'})`);
  return holding[0];
}

async function* readAdDirSync(session: LdapSession, config: LdapConfig, request: ReadRequest, ctx: ReadContext): AsyncGenerator<SourceItem> {
  const scopeKey = scopeKeyOf(config);
  const previous = previousDirSyncState(request, scopeKey, ctx.logger);
  const namingContext = await namingContextOf(session, config);
  const anchorAttribute = config.attributeMap.anchor[0]!;
  const binaryAttributes = [anchorAttribute];
  const attributes = requestedAttributes(config);
  const index = dnIndex(config);
  const inBase = (dn: string): boolean => normaliseDn(dn) !== normaliseDn(config.baseDn) && withinScope(config, parentOf(dn));

  /** Changed entries under the base, read again whole; those the read no longer finds have left it. */
  let changed: string[] = [];
  async function* readWhole(anchors: string[]): AsyncGenerator<SourceItem> {
    const filter = filterWithAnyOf(config.filter, anchorAttribute, anchors.map(guidBytes));
    const found = new Set<string>();
    for await (const page of searchPages(session, { baseDn: config.baseDn, filter, scope: config.scope, attributes, binaryAttributes, pageSize: config.pageSize })) {
      for (const entry of page) {
        const record = mapLdapEntry(entry, config, index.resolve);
        index.remember(entry, record.anchor);
        found.add(record.anchor);
        yield record;
      }
    }
    for (const anchor of anchors) if (!found.has(anchor)) yield { type: 'delete', anchor };
  }

  let cookie = previous?.cookie;
  for await (const response of dirSyncResponses(session, {
    namingContext,
    filter: `(|${config.filter}(isDeleted=TRUE))`,
    attributes: [...attributes, 'isDeleted', 'lastKnownParent'],
    binaryAttributes,
    cookie,
  })) {
    ctx.signal?.throwIfAborted();
    cookie = response.cookie;
    for (const entry of response.entries) {
      const deleted = firstText(entry, 'isDeleted')?.toUpperCase() === 'TRUE';
      if (deleted) {
        // A tombstone: this source's only if it was under the base when it was deleted.
        const parent = firstText(entry, 'lastKnownParent');
        if (previous && parent !== undefined && withinScope(config, plainDn(parent))) yield { type: 'delete', anchor: anchorOf(entry, config.attributeMap) };
        continue;
      }
      if (!inBase(entry.dn)) {
        // Changed elsewhere in the domain, or moved out of the base: a delete the engine ignores for anchors it never linked.
        if (previous) yield { type: 'delete', anchor: anchorOf(entry, config.attributeMap) };
        continue;
      }
      if (!previous) {
        const record = mapLdapEntry(entry, config, index.resolve);
        index.remember(entry, record.anchor);
        yield record;
        continue;
      }
      changed.push(anchorOf(entry, config.attributeMap));
      if (changed.length >= config.pageSize) {
        yield* readWhole(changed);
        changed = [];
      }
    }
  }
  if (changed.length > 0) yield* readWhole(changed);
  const state: AdDirSyncState = { v: 1, flavor: 'ad', method: 'dirsync', scopeKey, cookie: cookie ?? '' };
  yield { type: 'state', state: state as unknown as JsonValue, complete: previous === undefined };
}
