/**
 * The connector contract (README, design decisions): a connector only extracts.
 * It declares a configuration schema, checks a configuration, and reads its source as a stream
 * of records, deletions and state checkpoints. The sync engine owns matching, ownership, writes,
 * cursors and the decision to delete. Nothing here imports from `src/`.
 */
import type { SessionPolicy } from './sessions.js';

/** A JSON value: what a state checkpoint may hold (it is stored as jsonb by the engine). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export const ENTERPRISE_USER_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' as const;
export const SWITCHBOARD_USER_URN = 'urn:switchboard:scim:schemas:extension:2.0:User' as const;

export interface ScimName {
  givenName?: string;
  familyName?: string;
  formatted?: string;
}

export interface ScimMultiValue {
  value: string;
  type?: string;
  primary?: boolean;
}

export interface EnterpriseUserAttributes {
  employeeNumber?: string;
  department?: string;
  /**
   * `value` is the anchor of the manager's record in the same source when the connector could
   * resolve it; otherwise it is the source's own reference (an LDAP DN) and the record lists it in
   * `references`, so the engine resolves it.
   */
  manager?: { value: string };
}

export interface SwitchboardUserAttributes {
  /** E.164 (`+32470123456`). */
  mobileNumber?: string;
  /** PBX extension numbers. */
  extensions?: string[];
  /** The MiVoice Business service is applied to the user. */
  mivbService?: boolean;
  /** The user has a voicemail box on the PBX. */
  voicemail?: boolean;
}

/**
 * A user in SCIM vocabulary (RFC 7643 core User, enterprise extension, our extension). Every
 * attribute is optional: a source states what it knows and nothing else. An absent attribute
 * means "this source has no value", which the engine treats according to ownership.
 */
export interface ScimAttributes {
  userName?: string;
  name?: ScimName;
  displayName?: string;
  title?: string;
  active?: boolean;
  emails?: ScimMultiValue[];
  phoneNumbers?: ScimMultiValue[];
  [ENTERPRISE_USER_URN]?: EnterpriseUserAttributes;
  [SWITCHBOARD_USER_URN]?: SwitchboardUserAttributes;
}

/**
 * Keys the engine may use to match a record to an existing user when no link by anchor exists
 * (README, design decisions). `externalId` is the value a SCIM client would have pushed as `externalId`
 * for this person (for directories: the anchor).
 */
export interface HardKeys {
  externalId?: string;
  employeeNumber?: string;
  /**
   * The objectGUID (as `formatGuid` writes it) of the on-premises Active Directory object this record is synced
   * from (Entra's `onPremisesImmutableId` decoded): the engine matches it to the user an Active Directory source
   * of the same account links with that anchor, so a person synced from both is one user.
   */
  onPremisesObjectGuid?: string;
}

/** A reference the connector could not turn into an anchor; the engine resolves it. */
export interface UnresolvedReference {
  /** The SCIM attribute holding the reference, e.g. `urn:…:enterprise:2.0:User:manager`. */
  path: string;
  /** Which of the other records' `referenceKeys` the value is (for LDAP: `dn`). */
  by: string;
  value: string;
}

export interface SourceRecord {
  type: 'record';
  /** The source's stable, immutable id for this object (entryUUID, objectGUID, Graph id, …). Never empty. */
  anchor: string;
  attributes: ScimAttributes;
  /** The record as the source sent it (JSON-safe), shown to admins as the "advanced" data. */
  raw: Record<string, unknown>;
  hardKeys: HardKeys;
  /** How other records of this source may refer to this one (for LDAP: `{ dn }`). */
  referenceKeys?: Record<string, string>;
  references?: UnresolvedReference[];
  /** Per-record problems that did not stop the mapping (a value left out, and why). */
  warnings?: string[];
}

export interface SourceDelete {
  type: 'delete';
  anchor: string;
  /**
   * `soft`: the object still exists at the source but is out of use and may come back (an Entra user in the
   * recycle bin): the engine deactivates the user and does not start the grace period that ends in a delete;
   * the object's next record reactivates it. Absent: gone for good (the delete path, grace period and threshold).
   */
  soft?: boolean;
}

/**
 * A checkpoint. The engine saves `state` in the transaction of the batch that precedes it, and
 * passes the last saved one back as `{ mode: 'incremental', state }`.
 * `complete: true` is set only on the final checkpoint of a read that yielded every live object in
 * scope (a full read, or an incremental read the connector had to turn into a full read): only then
 * may the engine treat anchors it did not see as deleted. A read that ends without such a
 * checkpoint (error, abort) proves nothing about deletions.
 */
export interface SourceState {
  type: 'state';
  state: JsonValue;
  complete?: boolean;
  /**
   * The source has not changed since `state` was saved (a file export with the same content hash, an HTTP
   * 304): the read yields nothing else, and the run is recorded as idle (every count zero).
   */
  idle?: boolean;
}

/**
 * An object of the source that cannot become a record (a malformed CSV row, two rows claiming one
 * directory number): the engine quarantines it with `ref: error` and goes on. `ref` says where it is (`line 17`);
 * `anchor`, when the connector could tell it, keeps the linked user from being taken as gone.
 */
export interface SourceRejected {
  type: 'rejected';
  ref: string;
  anchor?: string;
  error: string;
  raw?: Record<string, unknown>;
}

/** An object of the source that is not a user (a MiCloud contact): counted in the run's `skipped`, nothing else. */
export interface SourceSkipped {
  type: 'skipped';
  ref: string;
  reason: string;
}

/**
 * A group of the source (connectors that read groups, e.g. Entra with `syncGroups`). `members` lists anchors of
 * this source's users and groups; with `partial`, `members` are added and `removedMembers` removed, the rest kept.
 */
export interface SourceGroup {
  type: 'group';
  anchor: string;
  displayName?: string;
  members: Array<{ anchor: string; type: 'User' | 'Group' }>;
  removedMembers?: string[];
  partial?: boolean;
  raw: Record<string, unknown>;
}

export interface SourceGroupDelete {
  type: 'group-delete';
  anchor: string;
}

export type SourceItem = SourceRecord | SourceDelete | SourceState | SourceGroup | SourceGroupDelete | SourceRejected | SourceSkipped;

export type ReadRequest = { mode: 'full' } | { mode: 'incremental'; state: JsonValue };

/** Structurally compatible with pino (`logger.info({ …fields }, 'message')`). */
export interface ConnectorLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ReadContext {
  signal?: AbortSignal;
  logger?: ConnectorLogger;
  /** Called each time the connector waits to retry a request the source throttled or failed (the run's `counts.retries`). */
  onRetry?: (detail: { waitMs: number }) => void;
  /** Connections kept open between the runs of one source (`owner`: its id); without it, each read connects anew. */
  sessions?: { pool: SessionPolicy; owner: string };
}

/** A JSON-schema-like description of a connector's configuration, for forms and validation messages. */
export interface ConfigProperty {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';
  title?: string;
  description?: string;
  default?: JsonValue;
  enum?: readonly JsonValue[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  /** A secret: accepted on write, never returned or logged. */
  writeOnly?: boolean;
  /**
   * For a secret: the top-level options that say where it is sent (a server URL, a tenant). A change of one of them
   * must give the secret again: a stored secret is never sent somewhere new on the strength of an edit.
   */
  sentTo?: readonly string[];
  properties?: Record<string, ConfigProperty>;
  required?: readonly string[];
  additionalProperties?: boolean | ConfigProperty;
  items?: ConfigProperty;
}

export interface ConfigSchema extends ConfigProperty {
  type: 'object';
  properties: Record<string, ConfigProperty>;
}

export interface Connector<Config = unknown> {
  /** The source kind: `ldap`, `entra`, `mivb`, … */
  readonly kind: string;
  readonly configSchema: ConfigSchema;
  /** Validates and normalises raw configuration (defaults applied). Throws `ConnectorConfigError`. */
  parseConfig(raw: unknown): Config;
  /** Connects and authenticates, reading nothing. Throws `ConnectorError`. */
  check(config: Config, ctx?: ReadContext): Promise<void>;
  /**
   * Streams the source. A connection, authentication or protocol failure before the first item
   * throws a `ConnectorError` (the engine then touches no user); a failure later throws too,
   * and the engine keeps only what preceding checkpoints cover.
   */
  read(config: Config, request: ReadRequest, ctx?: ReadContext): AsyncIterable<SourceItem>;
  /**
   * Writes a change back to the source system, for connectors that can (the MiVB username, as a MiCollab
   * bulk-provisioning file). Idempotent: delivering the same message twice leaves one result (`'exists'` the
   * second time). Throws `ConnectorError` (the outbox retries); `config` errors mean no write-back is configured.
   */
  deliver?(config: Config, message: WriteBackMessage, ctx?: ReadContext): Promise<{ target: string; outcome: 'written' | 'exists' }>;
}

/** The seed's apply-once username: set by an admin together with the MiVoice Business service. */
export interface UsernameWriteBack {
  type: 'username';
  userId: string;
  username: string;
  givenName?: string;
  familyName?: string;
  email?: string;
}

export type WriteBackMessage = UsernameWriteBack;

export interface OutgoingFile {
  name: string;
  content: string;
}
