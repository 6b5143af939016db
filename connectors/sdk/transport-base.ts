/**
 * What every file transport shares: the transport contract, the version of an export, and the helpers that
 * find the newest match and tell an unchanged export. The transports import this; file-transport.ts picks one.
 */
import type { Readable } from 'node:stream';
import picomatch from 'picomatch';
import type { SessionPolicy } from './sessions.js';

/** What identifies one version of an export without reading it (kept in the source's state). */
export interface ExportMeta {
  /** The file read (its path, or URL). */
  file: string;
  size?: number;
  mtimeMs?: number;
  etag?: string;
  lastModified?: string;
  /** When this version was read (set by the connector; decides whether size and mtime can be trusted). */
  readAtMs?: number;
}

export type OpenResult = { unchanged: true; meta: ExportMeta } | { unchanged: false; meta: ExportMeta; stream: Readable };

export interface FileTransport {
  /**
   * Finds the export and opens it, unless `previous` shows it is the version already read (same file, size
   * and modification time; for https a 304 to If-None-Match / If-Modified-Since).
   */
  open(previous?: ExportMeta, signal?: AbortSignal): Promise<OpenResult>;
  /** Puts `content` as `name` into the directory the location names; a file already there is left as it is. */
  put(name: string, content: string): Promise<'written' | 'exists'>;
  close(): Promise<void>;
}

export interface TransportOptions {
  pattern?: string;
  timeoutMs: number;
  /** Keeps connections open between a source's runs (sftp: SftpSessionPool); `owner`, the source's id, is part of the key. */
  sessions?: { pool: SessionPolicy; owner: string };
}

export interface DirectoryEntry {
  name: string;
  size: number;
  mtimeMs: number;
}

/** The newest file whose name matches `pattern` (ties broken by the greater name), or undefined. */
export function newestMatch(entries: readonly DirectoryEntry[], pattern: string): DirectoryEntry | undefined {
  const matches = picomatch(pattern, { dot: false });
  let best: DirectoryEntry | undefined;
  for (const entry of entries) {
    if (!matches(entry.name)) continue;
    if (!best || entry.mtimeMs > best.mtimeMs || (entry.mtimeMs === best.mtimeMs && entry.name > best.name)) best = entry;
  }
  return best;
}

/**
 * The export is the version already read: same file, size and modification time, and that time was settled
 * (a second or more) before the read. A file rewritten within the second it was read may keep its
 * modification time (SFTP gives seconds), so it is then hashed again, as git treats a "racily clean" file.
 */
export function sameVersion(previous: ExportMeta | undefined, meta: ExportMeta): boolean {
  return (
    previous?.readAtMs !== undefined &&
    meta.mtimeMs !== undefined &&
    meta.mtimeMs < previous.readAtMs - 1000 &&
    previous !== undefined &&
    previous.file === meta.file &&
    previous.size !== undefined &&
    previous.size === meta.size &&
    previous.mtimeMs !== undefined &&
    previous.mtimeMs === meta.mtimeMs
  );
}

/** Joins a directory path and a file name with one slash. */
export function joinPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}
