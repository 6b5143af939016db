/**
 * A request body written to a temporary file before anything reads it, counted against a limit as it arrives:
 * a declared Content-Length over the limit is refused at once, a chunked body as soon as it passes it. Either way
 * the 413 comes before anything is written to the database.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { DomainError } from '../domain/errors.js';

export interface SpooledBody {
  path: string;
  bytes: number;
  /** Deletes the file (and its directory). */
  release(): Promise<void>;
}

const tooLarge = (limit: number) =>
  new DomainError('payloadTooLarge', `The file is larger than the import limit of ${limit} bytes (IMPORT_MAX_BYTES); split it into smaller files`);

/** Reads the rest of a refused body, so the client gets the 413 instead of a reset connection. */
function discard(req: IncomingMessage): void {
  req.unpipe();
  req.resume();
}

export async function spoolBody(req: IncomingMessage, limit: number): Promise<SpooledBody> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    discard(req);
    throw tooLarge(limit);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-import-'));
  const file = path.join(dir, 'body.csv');
  const release = () => rm(dir, { recursive: true, force: true });
  let bytes = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file, { mode: 0o600 });
      let refused = false;
      // By hand rather than pipeline(): a refused body keeps flowing (and is dropped) so the client reads the 413.
      req.on('data', (chunk: Buffer) => {
        if (refused) return;
        bytes += chunk.length;
        if (bytes > limit) {
          refused = true;
          out.destroy();
          reject(tooLarge(limit));
          return;
        }
        if (!out.write(chunk)) {
          req.pause();
          out.once('drain', () => req.resume());
        }
      });
      req.on('end', () => {
        if (!refused) out.end();
      });
      req.on('aborted', () => reject(new DomainError('invalidValue', 'The request body was cut off before its end; send the file again')));
      req.on('error', reject);
      out.on('finish', resolve);
      out.on('error', reject);
    });
  } catch (error) {
    await release();
    throw error;
  }
  return { path: file, bytes, release };
}
