/**
 * Reaching a file export: one transport per scheme (sftp, https, file), each able to find the export (the
 * file, or the newest pattern match in a directory), tell cheaply whether it is the one already read, stream
 * it, and put a file into a directory (write-back).
 */
import type { FileLocation } from './file-location.js';
import { HttpsTransport } from './https-transport.js';
import { LocalTransport } from './local-transport.js';
import { SftpTransport } from './sftp-transport.js';

import type { FileTransport, TransportOptions } from './transport-base.js';

export {
  joinPath, newestMatch, sameVersion, type DirectoryEntry, type ExportMeta, type FileTransport, type OpenResult, type TransportOptions,
} from './transport-base.js';

export function openTransport(location: FileLocation, options: TransportOptions): FileTransport {
  switch (location.scheme) {
    case 'sftp':
      return new SftpTransport(location, options);
    case 'https':
      return new HttpsTransport(location, options);
    case 'file':
      return new LocalTransport(location, options);
  }
}

