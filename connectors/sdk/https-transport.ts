import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { ConnectorError } from './errors.js';
import type { HttpsLocation } from './file-location.js';
import type { ExportMeta, FileTransport, OpenResult, TransportOptions } from './transport-base.js';

/**
 * https:// locations (a web share): one GET, conditional on the ETag / Last-Modified of the version already
 * read, so an unchanged export costs one request answered 304. node:https rather than fetch, because a private
 * CA (`caCertPem`) is an option of the TLS connection.
 */
export class HttpsTransport implements FileTransport {
  constructor(
    private readonly location: HttpsLocation,
    private readonly options: TransportOptions,
  ) {}

  async open(previous?: ExportMeta, signal?: AbortSignal): Promise<OpenResult> {
    const { url, username, password, bearerToken, caCertPem } = this.location;
    const headers: Record<string, string> = { accept: 'text/csv, text/plain;q=0.9, */*;q=0.5' };
    if (bearerToken) headers.authorization = `Bearer ${bearerToken}`;
    else if (password !== undefined && username) headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    if (previous?.file === url && previous.etag) headers['if-none-match'] = previous.etag;
    if (previous?.file === url && previous.lastModified) headers['if-modified-since'] = previous.lastModified;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(url, { method: 'GET', headers, ca: caCertPem, timeout: this.options.timeoutMs, signal }, resolve);
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    }).catch((error: unknown) => {
      if (signal?.aborted) throw signal.reason;
      const e = error as NodeJS.ErrnoException;
      const tls = typeof e.code === 'string' && /CERT|SSL|TLS|SELF_SIGNED/i.test(e.code);
      const hint = tls ? ' (the server certificate does not verify: set caCertPem to the CA that signed it)' : '';
      throw new ConnectorError('network', `GET ${url}: ${e.message}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}${hint}`, { cause: error });
    });
    const meta: ExportMeta = {
      file: url,
      etag: header(response, 'etag'),
      lastModified: header(response, 'last-modified'),
      size: response.headers['content-length'] ? Number(response.headers['content-length']) : undefined,
    };
    const status = response.statusCode ?? 0;
    if (status === 304 && previous) {
      response.resume();
      return { unchanged: true, meta: { ...previous, etag: meta.etag ?? previous.etag, lastModified: meta.lastModified ?? previous.lastModified } };
    }
    if (status < 200 || status >= 300) {
      response.resume();
      const kind = status === 401 || status === 403 ? 'auth' : status === 404 ? 'config' : 'protocol';
      const what = status === 401 || status === 403 ? 'credentials refused' : status === 404 ? 'no such file' : 'unexpected answer';
      throw new ConnectorError(kind, `GET ${url}: HTTP ${status} (${what})`);
    }
    return { unchanged: false, meta, stream: response };
  }

  async put(): Promise<'written' | 'exists'> {
    throw new ConnectorError('config', `${this.location.url}: files are written back only to sftp:// or file:// directories`);
  }

  async close(): Promise<void> {}
}

function header(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
