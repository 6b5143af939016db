import { Readable } from 'node:stream';
import { expect } from 'chai';
import { ConnectorError, csvLine, detectDelimiter, readCsv, type CsvColumns, type CsvItem, type FileEncoding } from './index.js';

const columns: CsvColumns = { known: ['First Name', 'Last Name', 'Directory Number', 'Email Address'], required: ['Last Name', 'Directory Number'] };

async function parse(content: string | Buffer, encoding: FileEncoding = 'utf8', cols: CsvColumns = columns): Promise<CsvItem[]> {
  const items: CsvItem[] = [];
  // Two-byte chunks: every multi-byte character and the header end up split across chunks.
  const buffer = typeof content === 'string' ? Buffer.from(content, encoding) : content;
  const chunks: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += 2) chunks.push(buffer.subarray(i, i + 2));
  for await (const item of readCsv(Readable.from(chunks), encoding, cols, 'export.csv')) items.push(item);
  return items;
}

describe('connectors/sdk csv-export', () => {
  it('when the header differs in case and spaces and starts with a BOM, then the columns are matched', async () => {
    const items = await parse('\uFEFFfirst name,LASTNAME, Directory  Number ,Extra\r\nZoë,Müller,1001,x\r\n');
    expect(items).to.deep.equal([{ type: 'row', line: 2, values: { 'First Name': 'Zoë', 'Last Name': 'Müller', 'Directory Number': '1001' } }]);
  });

  it('when the header holds semicolons (European Excel), then ; is the delimiter and commas stay in values', async () => {
    expect(detectDelimiter('a;b;"c,d"')).to.equal(';');
    expect(detectDelimiter('a,b,"c;d;e"')).to.equal(',');
    const items = await parse('First Name;Last Name;Directory Number\nAnne, Marie;Dupré;1002\n');
    expect(items).to.deep.equal([{ type: 'row', line: 2, values: { 'First Name': 'Anne, Marie', 'Last Name': 'Dupré', 'Directory Number': '1002' } }]);
  });

  it('when a quoted field holds newlines, then it is one value and the next row keeps its own line number', async () => {
    const items = await parse('Last Name,Directory Number,First Name\r\n"Line\r\nbreak",1001,A\r\nSmith,1002,B\r\n');
    expect(items.map((i) => i.line)).to.deep.equal([2, 4]);
    expect((items[0] as { values: Record<string, string> }).values['Last Name']).to.equal('Line\r\nbreak');
  });

  it('when the file is Latin-1 or UTF-16LE, then the names read back exactly', async () => {
    const text = 'Last Name,Directory Number\nMüller Ørsted Lefèvre,1001\n';
    for (const encoding of ['latin1', 'utf16le'] as const) {
      const buffer = encoding === 'utf16le' ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) : Buffer.from(text, 'latin1');
      const items = await parse(buffer, encoding);
      expect(items, encoding).to.deep.equal([{ type: 'row', line: 2, values: { 'Last Name': 'Müller Ørsted Lefèvre', 'Directory Number': '1001' } }]);
    }
  });

  it('when a row has more or fewer fields than the header, then it is malformed with its line number and the next rows are read', async () => {
    const items = await parse('Last Name,Directory Number\nA,1001\nB,1002,extra\nC\nD,1004\n');
    expect(items).to.deep.equal([
      { type: 'row', line: 2, values: { 'Last Name': 'A', 'Directory Number': '1001' } },
      { type: 'malformed', line: 3, error: '3 fields where the header has 2' },
      { type: 'malformed', line: 4, error: '1 field where the header has 2' },
      { type: 'row', line: 5, values: { 'Last Name': 'D', 'Directory Number': '1004' } },
    ]);
  });

  it('when a quote is never closed (a truncated upload), then the rest is one malformed item with its line number and the rows before it are read', async () => {
    const items = await parse('Last Name,Directory Number\nA,1001\n"B,1002\nC,1003\n');
    expect(items).to.have.length(2);
    expect(items[0]).to.deep.include({ type: 'row', line: 2 });
    expect(items[1]).to.deep.include({ type: 'malformed', line: 4 });
    expect((items[1] as { error: string }).error).to.match(/Quote Not Closed/);
  });

  it('when a required column is missing, then reading fails naming it and the header, before any row', async () => {
    const error = await parse('First Name,Last Name\nA,B\n').then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectorError);
    expect((error as ConnectorError).kind).to.equal('config');
    expect((error as Error).message).to.equal('export.csv: missing required column "Directory Number" (the header has "First Name", "Last Name")');
  });

  it('when a renamed column is missing, then the error names the header expected and the documented column', async () => {
    const error = await parse('Last Name,DN\nA,1\n', 'utf8', { ...columns, renamed: { 'Directory Number': 'Extension' } }).then(() => null, (e: unknown) => e);
    expect((error as Error).message).to.match(/missing required column "Extension" \(Directory Number\)/);
  });

  it('when one of a group of columns is required, then the message lists the alternatives', async () => {
    const cols: CsvColumns = { known: ['Contact Name', 'First Name', 'Last Name', 'Email'], required: [], oneOf: [[['Contact Name'], ['First Name', 'Last Name']]] };
    const error = await parse('First Name,Email\nA,a@b.c\n', 'utf8', cols).then(() => null, (e: unknown) => e);
    expect((error as Error).message).to.match(/missing required column "Contact Name" or "First Name" \+ "Last Name"/);
  });

  it('when the file is empty, then reading fails saying so', async () => {
    const error = await parse('').then(() => null, (e: unknown) => e);
    expect((error as Error).message).to.equal('export.csv: the file is empty (no header line)');
  });

  it('when csvLine writes fields with commas, quotes and newlines, then readCsv reads them back', async () => {
    const text = csvLine(['Last Name', 'Directory Number']) + csvLine(['O"Brien, "Jr"\nII', '1001']);
    const items = await parse(text);
    expect(items).to.deep.equal([{ type: 'row', line: 2, values: { 'Last Name': 'O"Brien, "Jr"\nII', 'Directory Number': '1001' } }]);
  });
});
