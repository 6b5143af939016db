import { expect } from 'chai';
import { cellsOf, escapeCell, resolveHeader, rowToDocument, unescapeCell, userToRow } from '../../src/domain/user-csv.js';
import { CsvReadError, formatCsvRow, readCsv } from '../../src/lib/csv.js';

const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';

async function records(text: string | Buffer, charset?: string) {
  const out: { line: number; cells: string[] }[] = [];
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  // Two chunks cut in the middle of a line: lines and characters must not depend on where the network cut.
  for await (const r of readCsv([bytes.subarray(0, 5), bytes.subarray(5)], { charset })) out.push({ line: r.line, cells: r.cells });
  return out;
}

describe('Users CSV (pure parts)', () => {
  it('when a cell starts with a formula character, then the export prefixes it with a quote and the import removes it, except E.164 numbers', () => {
    for (const value of ['=1+1', '+cmd', '-2', '@SUM(A1)', '\tx', '\rx']) {
      expect(escapeCell(value)).to.equal(`'${value}`);
      expect(unescapeCell(escapeCell(value))).to.equal(value);
    }
    expect(escapeCell('+14155550100')).to.equal('+14155550100');
    expect(escapeCell("O'Brien")).to.equal("O'Brien");
    expect(unescapeCell("'Brien")).to.equal("'Brien");
  });

  it('when a header is resolved, then names match ignoring case and spaces, export and report columns are ignored, and unknown or doubled ones are refused', () => {
    const columns = resolveHeader(['EMAIL', 'first name', 'LastName', 'Registered', 'Line', 'Outcome', 'Reason'], false);
    expect(columns).to.include({ email: 0, firstName: 1, lastName: 2, title: -1 });
    expect(() => resolveHeader(['Email', 'Shoe Size'], false)).to.throw('Unknown column "Shoe Size"');
    expect(resolveHeader(['Email', 'Shoe Size'], true).email).to.equal(0);
    expect(() => resolveHeader(['Email', 'e mail'], false)).to.throw('twice');
    expect(() => resolveHeader(['First Name'], false)).to.throw('no Email column');
  });

  it('when a row is mapped onto a user, then present columns are written, empty cells clear, absent columns keep, lists in another order change nothing, and the current document is never changed', () => {
    const columns = resolveHeader(['Email', 'Title', 'Extensions', 'Account Admin', 'Licenses', 'Mobile Number', 'Mobile Country'], false);
    // Frozen to the leaves: rowToDocument shares what it does not change with the current document (no deep copy),
    // so a write into a shared object throws here (strict mode) instead of changing the stored user.
    const freeze = <T>(value: T): T => {
      if (value && typeof value === 'object') for (const v of Object.values(value)) freeze(v);
      return Object.freeze(value);
    };
    const current = freeze({
      userName: 'ada@example.com', emails: [{ value: 'ada@example.com', primary: true }], name: { givenName: 'Ada', familyName: 'Lovelace' }, title: 'Countess',
      [EXT]: { extensions: ['2001', '2002'], licenses: ['MiTeam Meetings', 'Other'], mobileNumber: '+32470123456', mobileCountry: 'BE' },
    });
    const same = rowToDocument(current, cellsOf(['ada@example.com', 'Countess', '2002;2001', 'no', 'other;miteam meetings', '+32470123456', 'BE'], columns));
    expect(same).to.deep.equal(current);
    const cleared = rowToDocument(current, cellsOf(['ada@example.com', '', '', 'yes', '', '', ''], columns));
    expect(cleared.title).to.equal(undefined);
    expect(cleared.name).to.deep.equal({ givenName: 'Ada', familyName: 'Lovelace' });
    expect(cleared[EXT]).to.deep.equal({ accountAdmin: true });
    const created = rowToDocument(undefined, cellsOf(['new@example.com', "'=x"], resolveHeader(['Email', 'Title'], false)));
    expect(created).to.include({ userName: 'new@example.com', title: '=x' });
    expect(created.emails).to.deep.equal([{ value: 'new@example.com', type: 'work', primary: true }]);
    expect(() => rowToDocument(undefined, cellsOf([''], resolveHeader(['Email'], false)))).to.throw('Email is mandatory');
    expect(() => rowToDocument(undefined, cellsOf(['a@example.com', 'X1', ''], resolveHeader(['Email', 'Mobile Country', 'Mobile Number'], false)))).to.not.throw();
    expect(() => rowToDocument(undefined, cellsOf(['a@example.com', 'X1', '0470'], resolveHeader(['Email', 'Mobile Country', 'Mobile Number'], false)))).to.throw('ISO 3166');
  });

  it('when a user is exported, then the row is in the export columns and maps back to the same document', () => {
    const doc = {
      userName: 'ada@example.com', emails: [{ value: 'ada@example.com', type: 'work', primary: true }], name: { givenName: 'Ada', familyName: 'Lovelace' },
      title: '-lead', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Eng' },
      [EXT]: { extensions: ['2001'], accountAdmin: true, mobileNumber: '+32470123456', mobileCountry: 'BE' },
    };
    const row = userToRow({ doc, registered: true, source: 'local', updatedAt: new Date('2026-12-01T00:00:00Z'), updatedBy: 'account-admin:t1' });
    expect(row).to.deep.equal(['Ada', 'Lovelace', 'ada@example.com', '+32470123456', 'BE', '2001', 'yes', '', '', 'Eng', "'-lead", 'yes', 'local', '2026-12-01T00:00:00.000Z', 'account-admin:t1']);
    const header = ['First Name', 'Last Name', 'Email', 'Mobile Number', 'Mobile Country', 'Extensions', 'Account Admin', 'SMS Number', 'Licenses', 'Department', 'Title', 'Registered', 'Source', 'Modified On', 'Modified By'];
    expect(rowToDocument(doc, cellsOf(row, resolveHeader(header, false)))).to.deep.equal(doc);
  });

  it('when CSV is read, then records carry the line they start on across CRLF, blank lines, quoted line breaks and chunk cuts', async () => {
    expect(await records('\ufeffa;b\r\n1;"x\r\ny"\r\n\r\n3;4\r\n')).to.deep.equal([
      { line: 1, cells: ['a', 'b'] }, { line: 2, cells: ['1', 'x\ny'] }, { line: 5, cells: ['3', '4'] },
    ]);
    expect(await records('a,b\n1,2')).to.deep.equal([{ line: 1, cells: ['a', 'b'] }, { line: 2, cells: ['1', '2'] }]);
    expect(await records(Buffer.from('a,b\nné,2\n', 'latin1'), 'iso-8859-1')).to.deep.equal([{ line: 1, cells: ['a', 'b'] }, { line: 2, cells: ['né', '2'] }]);
    let error: unknown;
    try {
      await records(Buffer.from('a,b\n1,2\nné,2\n', 'latin1'));
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(CsvReadError);
    expect((error as CsvReadError).line).to.equal(3);
  });

  it('when a row is written, then cells with delimiters, quotes, line breaks or edge spaces are quoted', () => {
    expect(formatCsvRow(['a', 'b,c', 'd"e', 'f\ng', ' h', 'i;j'])).to.equal('a,"b,c","d""e","f\ng"," h","i;j"\r\n');
    expect(formatCsvRow(['a', 'b'], ';')).to.equal('a;b\r\n');
  });
});
