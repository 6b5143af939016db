/**
 * Streaming CSV in and out. Reading: bytes in a declared charset (UTF-8 default; bytes not valid in it are an error
 * naming their line), a BOM, CRLF or LF, `,` or `;` detected from the header, quoted fields with line breaks, each
 * record with the physical line it starts on (the header is line 1). Writing: RFC 4180 quoting.
 */
import { once } from 'node:events';
import { TextDecoder } from 'node:util';
import { parse, type CsvError } from 'csv-parse';
// The file connectors' rule: `,` or `;`, whichever the header line holds more of outside quotes (`,` on a tie).
import { detectDelimiter } from '../../connectors/sdk/csv-export.js';

/** A file that cannot be read as CSV: what is wrong, and on which physical line (1-based). */
export class CsvReadError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export class UnsupportedCharsetError extends Error {}

export interface CsvRecord {
  /** The physical line the record starts on; the header is line 1. */
  line: number;
  cells: string[];
  /** The delimiter read from the header line. */
  delimiter: ',' | ';';
}

/**
 * A decoder for `charset`, refusing charsets whose line break is not the byte 0x0A (UTF-16 and the like): lines are
 * found in the bytes, so the line of a byte the charset does not allow can be named.
 */
function decoderFor(charset: string): TextDecoder {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch {
    throw new UnsupportedCharsetError(`charset "${charset}" is not known; send UTF-8 (the default) or another ASCII-compatible charset such as ISO-8859-1 or windows-1252`);
  }
  if (decoder.encoding.startsWith('utf-16')) throw new UnsupportedCharsetError(`charset "${charset}" is not supported; send UTF-8 (the default) or another ASCII-compatible charset`);
  return decoder;
}

/** Text of the bytes, split after whole lines; an invalid byte is a CsvReadError naming its line. */
async function* decodeLines(source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>, charset: string): AsyncGenerator<string> {
  const decoder = decoderFor(charset);
  let rest: Buffer = Buffer.alloc(0);
  let line = 1;
  const decode = (bytes: Buffer, final: boolean): string => {
    try {
      return decoder.decode(bytes, { stream: !final });
    } catch {
      // Only on this error path: find the line, one line at a time with a fresh decoder.
      let at = line;
      for (let start = 0; start < bytes.length; ) {
        const end = bytes.indexOf(0x0a, start);
        const piece = bytes.subarray(start, end === -1 ? bytes.length : end + 1);
        try {
          new TextDecoder(charset, { fatal: true }).decode(piece);
        } catch {
          break;
        }
        at++;
        start = end === -1 ? bytes.length : end + 1;
      }
      throw new CsvReadError(at, `line ${at} holds bytes that are not valid ${decoder.encoding.toUpperCase()}; save the file as ${decoder.encoding.toUpperCase()} or declare its charset (Content-Type: text/csv; charset=…)`);
    }
  };
  const count = (bytes: Buffer) => {
    for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) line++;
  };
  for await (const chunk of source) {
    const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const cut = bytes.lastIndexOf(0x0a);
    if (cut === -1) {
      rest = Buffer.from(bytes);
      continue;
    }
    const whole = bytes.subarray(0, cut + 1);
    rest = Buffer.from(bytes.subarray(cut + 1));
    const text = decode(whole, false);
    count(whole);
    yield text;
  }
  const text = decode(rest, true);
  if (text !== '') yield text;
}

/**
 * The records of a CSV byte stream, header first, each with its starting physical line. Line breaks are read as
 * LF (CRLF and a lone CR too, inside quoted cells as well); blank lines are skipped; a record may have fewer or
 * more cells than the header.
 */
export async function* readCsv(source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>, options: { charset?: string } = {}): AsyncGenerator<CsvRecord> {
  const lines = decodeLines(source, options.charset ?? 'utf-8');
  // The delimiter is read from the header line: hold the text until its end.
  let head = '';
  const pending: string[] = [];
  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    const text = next.value.replace(/\r\n?/g, '\n');
    pending.push(text);
    head += text;
    if (head.replace(/^\ufeff/, '').replace(/^\n+/, '').includes('\n')) break;
  }
  const firstLine = head.replace(/^\ufeff/, '').replace(/^\n+/, '').split('\n')[0] ?? '';
  const delimiter = detectDelimiter(firstLine);
  const parser = parse({
    bom: true,
    delimiter,
    record_delimiter: '\n',
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    info: true,
  });
  const feed = (async () => {
    for (const text of pending) if (!parser.write(text)) await once(parser, 'drain');
    for await (const piece of lines) {
      if (!parser.write(piece.replace(/\r\n?/g, '\n'))) await once(parser, 'drain');
    }
    parser.end();
  })().catch((error: unknown) => {
    parser.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // info.lines is the line the record ends on; the line breaks before it inside the record are those of its
      // quoted cells (a line break outside quotes ends a record). Counted in the cells, not in the record's raw text
      // (csv-parse's `raw` copies every record once more: 1.6 KB allocated a row per pass, measured).
      let inside = 0;
      for (const cell of item.record) for (let i = cell.indexOf('\n'); i !== -1; i = cell.indexOf('\n', i + 1)) inside++;
      yield { line: item.info.lines - inside, cells: item.record, delimiter };
    }
  } catch (error) {
    if (error instanceof CsvReadError) throw error;
    const csv = error as CsvError & { lines?: number };
    if (typeof csv.code === 'string' && csv.code.startsWith('CSV_')) throw new CsvReadError(csv.lines ?? 0, `line ${csv.lines ?? '?'}: ${csv.message.replace(/ at line \d+/, '')}`);
    throw error;
  } finally {
    await feed;
  }
}

const NEEDS_QUOTES = /[",\n\r;]|^\s|\s$/;

/** One CSV line (RFC 4180), ending in CRLF: cells with a delimiter, a quote, a line break or edge spaces are quoted. */
export function formatCsvRow(cells: readonly string[], delimiter: ',' | ';' = ','): string {
  return `${cells.map((c) => (NEEDS_QUOTES.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(delimiter)}\r\n`;
}
