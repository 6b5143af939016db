/**
 * A connector over a CSV export (README, design decisions): the transport, the content hash, the streaming parse and
 * the checks are here once; a file connector supplies its columns and a pure row mapper.
 *
 * A read fetches the export into a temporary file while hashing it (the export is never held in memory), then
 * reads that file twice: once for the keys that must be unique (the anchor, and a connector's own key such as
 * MiVB's directory number per cluster: every row sharing one is rejected, never merged), kept as 8-byte digests
 * (shared-keys.ts; a repeated digest costs one more read for the exact keys), once to map and yield.
 * An export whose version (size and modification time, or an HTTP 304) or content hash equals the saved state
 * gives an idle checkpoint and nothing else. Only the final checkpoint is saved, with `complete: true`: a run
 * killed half way reads the file again, and the records already applied come back unchanged.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readCsv, type CsvColumns, type CsvRow } from './csv-export.js';
import { RepeatedKeys } from './shared-keys.js';
import { ConnectorError } from './errors.js';
import { describeLocation, type FileLocation, type FileSourceConfig } from './file-location.js';
import { openTransport, type ExportMeta } from './file-transport.js';
import type { ConfigSchema, Connector, JsonValue, OutgoingFile, ReadContext, ReadRequest, SourceItem, SourceRecord, WriteBackMessage } from './types.js';

/** What a row becomes. */
export type RowOutcome =
  | { type: 'record'; record: SourceRecord }
  | { type: 'skip'; reason: string }
  | { type: 'reject'; error: string; anchor?: string };

export interface FileConnectorSpec<Config extends { file: FileSourceConfig }> {
  kind: string;
  configSchema: ConfigSchema;
  parseConfig(raw: unknown): Config;
  columns(config: Config): CsvColumns;
  /** Maps one row (canonical column → value; `line` for messages). Pure. */
  mapRow(values: Readonly<Record<string, string>>, line: number, config: Config): RowOutcome;
  /** A key rows must not share beside the anchor (with what to call it in the error), or undefined. */
  uniqueKey?(values: Readonly<Record<string, string>>, config: Config): { key: string; label: string } | undefined;
  /** The directory a write-back message is put into as a file (named by the message), when the source has one. */
  writeBack?(config: Config, message: WriteBackMessage): { location: FileLocation; timeoutMs: number; file: OutgoingFile } | undefined;
}

/** The state a file connector saves: which export was read and its content hash. */
export type FileState = ExportMeta & { hash: string; rows: number };

function toState(hash: string, meta: ExportMeta, rows: number, readAtMs: number | undefined): FileState {
  const state: FileState = { hash, file: meta.file, rows };
  if (readAtMs !== undefined) state.readAtMs = readAtMs;
  if (meta.size !== undefined) state.size = meta.size;
  if (meta.mtimeMs !== undefined) state.mtimeMs = meta.mtimeMs;
  if (meta.etag !== undefined) state.etag = meta.etag;
  if (meta.lastModified !== undefined) state.lastModified = meta.lastModified;
  return state;
}

function fromState(state: JsonValue | undefined): FileState | undefined {
  if (!state || typeof state !== 'object' || Array.isArray(state)) return undefined;
  const s = state as Record<string, JsonValue>;
  return typeof s.hash === 'string' && typeof s.file === 'string' ? (s as unknown as FileState) : undefined;
}

export function createFileConnector<Config extends { file: FileSourceConfig }>(spec: FileConnectorSpec<Config>): Connector<Config> {
  return {
    kind: spec.kind,
    configSchema: spec.configSchema,
    parseConfig: spec.parseConfig,

    async check(config: Config, ctx?: ReadContext): Promise<void> {
      const transport = openTransport(config.file.location, config.file);
      try {
        const opened = await transport.open(undefined, ctx?.signal);
        if (opened.unchanged) return;
        // Reading the header is enough: the missing-column error is thrown before the first row.
        for await (const item of readCsv(opened.stream, config.file.encoding, spec.columns(config), opened.meta.file, ctx?.signal)) {
          void item;
          break;
        }
      } finally {
        await transport.close();
      }
    },

    read(config: Config, request: ReadRequest, ctx?: ReadContext): AsyncIterable<SourceItem> {
      return readExport(spec, config, request, ctx);
    },

    async deliver(config: Config, message: WriteBackMessage): Promise<{ target: string; outcome: 'written' | 'exists' }> {
      const target = spec.writeBack?.(config, message);
      if (!target) throw new ConnectorError('config', `this ${spec.kind} source has no writeBack location`);
      const transport = openTransport(target.location, { timeoutMs: target.timeoutMs });
      try {
        const outcome = await transport.put(target.file.name, target.file.content);
        return { target: `${describeLocation(target.location)}/${target.file.name}`, outcome };
      } finally {
        await transport.close();
      }
    },
  };
}

async function* readExport<Config extends { file: FileSourceConfig }>(
  spec: FileConnectorSpec<Config>,
  config: Config,
  request: ReadRequest,
  ctx: ReadContext | undefined,
): AsyncGenerator<SourceItem> {
  const signal = ctx?.signal;
  signal?.throwIfAborted();
  const previous = request.mode === 'incremental' ? fromState(request.state) : undefined;
  const where = describeLocation(config.file.location);
  const dir = await mkdtemp(join(tmpdir(), `switchboard-${spec.kind}-`));
  try {
    const copy = join(dir, 'export.csv');
    const transport = openTransport(config.file.location, { ...config.file, ...(ctx?.sessions ? { sessions: ctx.sessions } : {}) });
    let meta: ExportMeta;
    let hash: string;
    let readAtMs: number;
    try {
      readAtMs = Date.now();
      const opened = await transport.open(previous, signal);
      meta = opened.meta;
      if (opened.unchanged) {
        // The saved read time stays: it is what proves the modification time settled.
        yield { type: 'state', state: toState(previous!.hash, meta, previous!.rows, previous!.readAtMs) as unknown as JsonValue, idle: true };
        return;
      }
      const hasher = createHash('sha256');
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hasher.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(opened.stream, tap, createWriteStream(copy), { signal }).catch((error: unknown) => {
        if (signal?.aborted) throw signal.reason;
        throw new ConnectorError('network', `${where}: the transfer of ${meta.file} failed (${error instanceof Error ? error.message : String(error)})`, { cause: error });
      });
      hash = hasher.digest('hex');
    } finally {
      await transport.close();
    }
    if (previous && previous.hash === hash) {
      yield { type: 'state', state: toState(hash, meta, previous.rows, readAtMs) as unknown as JsonValue, idle: true };
      return;
    }

    const columns = spec.columns(config);
    const rows = () => readCsv(createReadStream(copy), config.file.encoding, columns, meta.file, signal);

    // Pass 1: a digest of every anchor and unique key (shared-keys.ts: 8 bytes a row, never the rows or their keys).
    const anchors = new RepeatedKeys();
    const keys = new RepeatedKeys();
    const keysOf = (item: CsvRow): { anchor?: string; unique?: string } => {
      const outcome = spec.mapRow(item.values, item.line, config);
      return { anchor: outcome.type === 'record' ? outcome.record.anchor : undefined, unique: spec.uniqueKey?.(item.values, config)?.key };
    };
    for await (const item of rows()) {
      if (item.type !== 'row') continue;
      const { anchor, unique } = keysOf(item);
      if (anchor !== undefined) anchors.note(anchor);
      if (unique !== undefined) keys.note(unique);
    }
    // Only when a digest repeats, the file is read once more for the lines of the keys more than one row holds (every
    // row of such a key is rejected): an export without a conflict is read twice, not three times.
    if ([anchors.mayRepeat(), keys.mayRepeat()].includes(true)) {
      for await (const item of rows()) {
        if (item.type !== 'row') continue;
        const { anchor, unique } = keysOf(item);
        if (anchor !== undefined) anchors.recheck(anchor, item.line);
        if (unique !== undefined) keys.recheck(unique, item.line);
      }
    }

    // The last pass: map and yield in file order.
    let count = 0;
    for await (const item of rows()) {
      const ref = `line ${item.line}`;
      if (item.type === 'malformed') {
        yield { type: 'rejected', ref, error: item.error };
        continue;
      }
      const outcome = spec.mapRow(item.values, item.line, config);
      const anchor = outcome.type === 'record' ? outcome.record.anchor : outcome.type === 'reject' ? outcome.anchor : undefined;
      const unique = spec.uniqueKey?.(item.values, config);
      const sharedKey = unique ? keys.shared(unique.key) : undefined;
      if (unique && sharedKey) {
        yield { type: 'rejected', ref, anchor, error: `${unique.label} is on lines ${sharedKey.join(', ')}: a conflict, every row quarantined (never merged)`, raw: { ...item.values } };
        continue;
      }
      const sharedAnchor = anchor !== undefined ? anchors.shared(anchor) : undefined;
      if (outcome.type === 'record' && sharedAnchor) {
        yield { type: 'rejected', ref, anchor, error: `the anchor ${anchor} is on lines ${sharedAnchor.join(', ')}: a conflict, every row quarantined (never merged)`, raw: { ...item.values } };
        continue;
      }
      if (outcome.type === 'skip') yield { type: 'skipped', ref, reason: outcome.reason };
      else if (outcome.type === 'reject') yield { type: 'rejected', ref, anchor, error: outcome.error, raw: { ...item.values } };
      else {
        count++;
        yield outcome.record;
      }
    }
    yield { type: 'state', state: toState(hash, meta, count, readAtMs) as unknown as JsonValue, complete: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
