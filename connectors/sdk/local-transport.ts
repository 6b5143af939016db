import { createReadStream } from 'node:fs';
import { readdir, rename, stat, writeFile } from 'node:fs/promises';
import { ConnectorError } from './errors.js';
import type { LocalLocation } from './file-location.js';
import { joinPath, newestMatch, sameVersion, type DirectoryEntry, type ExportMeta, type FileTransport, type OpenResult, type TransportOptions } from './transport-base.js';

/** file:/// locations: a folder on this machine (a mounted share, or where an export job writes). */
export class LocalTransport implements FileTransport {
  constructor(
    private readonly location: LocalLocation,
    private readonly options: TransportOptions,
  ) {}

  async open(previous?: ExportMeta): Promise<OpenResult> {
    const meta = await this.locate();
    if (sameVersion(previous, meta)) return { unchanged: true, meta };
    return { unchanged: false, meta, stream: createReadStream(meta.file) };
  }

  private async locate(): Promise<ExportMeta> {
    const { path } = this.location;
    if (!this.options.pattern) {
      const info = await stat(path).catch((e: NodeJS.ErrnoException) => {
        throw new ConnectorError('config', `file://${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { cause: e });
      });
      if (!info.isFile()) throw new ConnectorError('config', `file://${path}: not a file (set pattern to read the newest file of a directory)`);
      return { file: path, size: info.size, mtimeMs: Math.trunc(info.mtimeMs) };
    }
    const names = await readdir(path).catch((e: NodeJS.ErrnoException) => {
      throw new ConnectorError('config', `file://${path}: ${e.code === 'ENOENT' ? 'no such directory' : e.code === 'ENOTDIR' ? 'not a directory' : e.message}`, { cause: e });
    });
    const entries: DirectoryEntry[] = [];
    for (const name of names) {
      const info = await stat(joinPath(path, name)).catch(() => undefined);
      if (info?.isFile()) entries.push({ name, size: info.size, mtimeMs: Math.trunc(info.mtimeMs) });
    }
    const newest = newestMatch(entries, this.options.pattern);
    if (!newest) throw new ConnectorError('config', `file://${path}: no file matches ${this.options.pattern}`);
    return { file: joinPath(path, newest.name), size: newest.size, mtimeMs: newest.mtimeMs };
  }

  async put(name: string, content: string): Promise<'written' | 'exists'> {
    const target = joinPath(this.location.path, name);
    if (await stat(target).then(() => true, () => false)) return 'exists';
    // Written aside then renamed, so a provisioning job polling the folder never picks up half a file.
    const part = joinPath(this.location.path, `.${name}.part`);
    try {
      await writeFile(part, content);
      await rename(part, target);
    } catch (e) {
      throw new ConnectorError('network', `file://${this.location.path}: cannot write ${name}: ${(e as Error).message}`, { cause: e });
    }
    return 'written';
  }

  async close(): Promise<void> {}
}
