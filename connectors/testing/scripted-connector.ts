/**
 * A connector over an in-memory directory that a test scripts (issue 10, item 7): records, deletions,
 * checkpoints and failures on demand, so the sync engine can be tested without a real source. It imports only
 * the connector SDK, like any connector.
 *
 * The directory keeps a change number per record and per deletion. A full read yields every record, a
 * checkpoint every `checkpointEvery` records and a final `complete` checkpoint; an incremental read from a
 * checkpoint yields the records changed and the deletions made since it (as `delete` items), then a checkpoint.
 * `failBeforeRead` throws (e.g. a ConnectorError of kind `auth`) before the first item; `failAfterRecords`
 * throws once that many records of a read were yielded (a run killed half-way).
 */
import { ConnectorConfigError, type Connector, type JsonValue, type ReadRequest, type SourceItem, type SourceRecord } from '../sdk/index.js';

export interface ScriptedState {
  /** The directory's change number the read covers. */
  change: number;
}

export class ScriptedDirectory {
  private readonly records = new Map<string, { record: SourceRecord; change: number }>();
  private readonly deleted = new Map<string, number>();
  private change = 0;
  /** Every read the engine made, in order. */
  readonly reads: ReadRequest[] = [];
  checkpointEvery = 0;
  failBeforeRead: Error | undefined;
  failAfterRecords: number | undefined;

  /** Adds or replaces records (a change each). */
  put(...records: SourceRecord[]): this {
    for (const record of records) {
      this.records.set(record.anchor, { record, change: ++this.change });
      this.deleted.delete(record.anchor);
    }
    return this;
  }

  /** Deletes records by anchor (a change each). */
  remove(...anchors: string[]): this {
    for (const anchor of anchors) {
      if (this.records.delete(anchor)) this.deleted.set(anchor, ++this.change);
    }
    return this;
  }

  get(anchor: string): SourceRecord | undefined {
    return this.records.get(anchor)?.record;
  }

  get size(): number {
    return this.records.size;
  }

  async *read(request: ReadRequest): AsyncIterable<SourceItem> {
    this.reads.push(request);
    if (this.failBeforeRead) throw this.failBeforeRead;
    const since = request.mode === 'incremental' ? (request.state as unknown as ScriptedState).change : undefined;
    const upTo = this.change;
    const checkpoint = (complete: boolean): SourceItem => ({ type: 'state', state: { change: upTo } as unknown as JsonValue, ...(complete ? { complete } : {}) });
    let yielded = 0;
    for (const { record, change } of [...this.records.values()]) {
      if (since !== undefined && change <= since) continue;
      if (this.failAfterRecords !== undefined && yielded >= this.failAfterRecords) throw new Error(`scripted failure after ${yielded} records`);
      yield structuredClone(record);
      yielded++;
      if (this.checkpointEvery > 0 && yielded % this.checkpointEvery === 0) yield { type: 'state', state: { change: upTo, partial: yielded } as unknown as JsonValue };
    }
    if (since !== undefined) for (const [anchor, change] of this.deleted) if (change > since) yield { type: 'delete', anchor };
    yield checkpoint(since === undefined);
  }
}

/** A connector of `kind` reading `directory`; its configuration is any object. */
export function scriptedConnector(directory: ScriptedDirectory, kind = 'ldap'): Connector<Record<string, unknown>> {
  return {
    kind,
    configSchema: { type: 'object', properties: {} },
    parseConfig(raw: unknown) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConnectorConfigError(['the configuration must be an object'], kind);
      return raw as Record<string, unknown>;
    },
    async check() {
      if (directory.failBeforeRead) throw directory.failBeforeRead;
    },
    read(_config, request) {
      return directory.read(request);
    },
  };
}

/** A record as a directory of people would send it: userName and a work email, the anchor as externalId. */
export function personRecord(anchor: string, userName: string, attributes: Record<string, unknown> = {}, hardKeys: SourceRecord['hardKeys'] = { externalId: anchor }): SourceRecord {
  return {
    type: 'record',
    anchor,
    attributes: { userName, emails: [{ value: userName, type: 'work', primary: true }], ...attributes } as SourceRecord['attributes'],
    raw: { anchor, userName, ...attributes },
    hardKeys,
  };
}
