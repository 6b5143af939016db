import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { MailWorker } from '../../src/services/mail/mail-worker.js';
import { createSmtpMailer, type Mailer } from '../../src/services/mail/mailer.js';
import { startSmtpTestServer, type SmtpTestServer } from '../support/smtp-test-server.js';
import { createAccountWithToken, createTestApp, formFields, scimJson, type TestApp } from '../support/test-app.js';

const IMPORT = 'urn:switchboard:scim:schemas:core:2.0:Import';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const HEADER = 'First Name,Last Name,Email,Mobile Number,Mobile Country,Extensions,Account Admin,SMS Number,Licenses,Department,Title';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('Users CSV: import (POST /Imports) and export (GET /Users as text/csv)', () => {
  let t: TestApp;
  let smtp: SmtpTestServer;
  let mailer: Mailer;
  let worker: MailWorker;

  before(async () => {
    t = await createTestApp({ PUBLIC_URL: 'http://switchboard.test', IMPORT_MAX_BYTES: '64kb' });
    smtp = await startSmtpTestServer();
    mailer = createSmtpMailer(smtp.url);
    worker = new MailWorker({ db: t.deps.db.knex, mailer, clock: systemClock, logger: silentLogger, from: 'switchboard@example.test' });
  });
  after(async () => {
    await worker?.stop();
    await mailer?.close();
    await smtp?.stop();
    await t?.close();
  });

  const knex = () => t.deps.db.knex;
  const base = (accountId: string) => `/accounts/${accountId}/scim/v2`;
  let n = 0;
  async function customer(): Promise<{ accountId: string; token: string }> {
    return createAccountWithToken(t, { name: `Import ${++n}`, type: 'customer' });
  }
  function postCsv(a: { accountId: string; token: string }, body: string | Buffer, query = '', contentType = 'text/csv') {
    return t.request.post(`${base(a.accountId)}/Imports${query}`).set('Authorization', `Bearer ${a.token}`).set('Content-Type', contentType).send(body);
  }
  const get = (a: { accountId: string; token: string }, path: string) => t.request.get(`${base(a.accountId)}${path}`).set('Authorization', `Bearer ${a.token}`);
  const userCount = async (accountId: string) => Number(((await knex()('users').where({ account_id: accountId }).count({ n: '*' })) as Json[])[0]!.n);
  const userByEmail = async (accountId: string, email: string): Promise<Json | undefined> =>
    knex()('users').where({ account_id: accountId }).whereRaw('lower(primary_email) = ?', [email.toLowerCase()]).first();

  it('when the template is asked for, then it answers the header row as text/csv', async () => {
    const a = await customer();
    const res = await get(a, '/Imports/template');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/csv/);
    expect(res.text).to.equal(`${HEADER}\r\n`);
  });

  it('when a file of new users is imported with sendWelcomeEmail, then they are created through the Add User rules, each line is reported, and the welcome emails reach the SMTP server', async () => {
    const a = await customer();
    const csv = [
      HEADER,
      'Ada,Lovelace,ada@example.com,0470 12 34 56,BE,2001;2002,yes,,,Engineering,"Countess,\nAnalyst"',
      'Alan,Turing,alan@example.com,+14155550100,,2003,no,,,,',
      '',
      'Grace,Hopper,grace@example.com,,,,,,,Navy,Admiral',
    ].join('\n');
    const before = smtp.messages.length;
    const res = await postCsv(a, csv, '?sendWelcomeEmail=true');
    expect(res.status).to.equal(201);
    expect(res.headers['content-type']).to.match(/^application\/scim\+json/);
    expect(res.headers.location).to.equal(`http://switchboard.test${base(a.accountId)}/Imports/${res.body.id}`);
    expect(res.body.schemas).to.deep.equal([IMPORT]);
    expect(res.body).to.include({ status: 'succeeded', dryRun: false, mode: 'upsert', sendWelcomeEmail: true });
    expect(res.body.counts).to.deep.equal({ rows: 3, created: 3, updated: 0, unchanged: 0, failed: 0 });
    // Line of the record's start: the header is line 1, Ada's record spans lines 2-3, a blank line 5 is skipped.
    expect(res.body.results.map((r: Json) => [r.line, r.email, r.outcome])).to.deep.equal([
      [2, 'ada@example.com', 'created'], [4, 'alan@example.com', 'created'], [6, 'grace@example.com', 'created'],
    ]);
    const ada = await userByEmail(a.accountId, 'ada@example.com');
    expect(ada!.data.name).to.deep.equal({ givenName: 'Ada', familyName: 'Lovelace' });
    expect(ada!.data.userName).to.equal('ada@example.com');
    expect(ada!.data.title).to.equal('Countess,\nAnalyst');
    expect(ada!.data[EXT]).to.include({ mobileNumber: '+32470123456', mobileCountry: 'BE', accountAdmin: true });
    expect(ada!.data[EXT].extensions).to.deep.equal(['2001', '2002']);
    expect(ada!.data['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']).to.deep.equal({ department: 'Engineering' });
    expect(ada!.updated_by).to.match(/^account-admin:/);
    expect(res.body.results[0].userId).to.equal(ada!.id);
    const outbox = await knex()('outbox').where({ account_id: a.accountId, kind: 'welcome' });
    expect(outbox.map((r: Json) => r.to_address).sort()).to.deep.equal(['ada@example.com', 'alan@example.com', 'grace@example.com']);
    await worker.drain();
    const mails = (await smtp.waitFor(before + 3)).slice(before);
    expect(mails.map((m) => (Array.isArray(m.to) ? m.to[0] : m.to)!.value[0]!.address).sort()).to.deep.equal(['ada@example.com', 'alan@example.com', 'grace@example.com']);
    expect(mails[0]!.text).to.contain('http://switchboard.test/register/');
    const audit = await knex()('audit_log').where({ account_id: a.accountId, action: 'import.succeeded' });
    expect(audit).to.have.length(1);
  });

  it('when the same file is imported twice, then the second import changes nothing and reports every row unchanged', async () => {
    const a = await customer();
    const csv = `${HEADER}\nAda,Lovelace,ada@example.com,0470 12 34 56,be,2002 2001,yes,,,Engineering,Countess\nAlan,Turing,alan@example.com,,,,no,,,,\n`;
    expect((await postCsv(a, csv)).body.counts).to.include({ created: 2 });
    const versions = await knex()('users').where({ account_id: a.accountId }).orderBy('id').select('id', 'version', 'updated_at');
    const again = await postCsv(a, csv);
    expect(again.status).to.equal(201);
    expect(again.body.counts).to.deep.equal({ rows: 2, created: 0, updated: 0, unchanged: 2, failed: 0 });
    expect(again.body.results.map((r: Json) => r.outcome)).to.deep.equal(['unchanged', 'unchanged']);
    expect(await knex()('users').where({ account_id: a.accountId }).orderBy('id').select('id', 'version', 'updated_at')).to.deep.equal(versions);
    // A changed cell updates only that user.
    const changed = await postCsv(a, csv.replace('Countess', 'Mathematician'));
    expect(changed.body.counts).to.deep.equal({ rows: 2, created: 0, updated: 1, unchanged: 1, failed: 0 });
    expect((await userByEmail(a.accountId, 'ada@example.com'))!.data.title).to.equal('Mathematician');
  });

  it('when some rows break the Add User rules, then each fails with what to fix, the others are written, and the fixed report imports back', async () => {
    const a = await customer();
    await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set('Authorization', `Bearer ${t.operatorToken}`).set('Content-Type', scimJson)
      .send({ schemas: [PATCH], Operations: [{ op: 'replace', value: { settings: { twilio: { enabled: true, userNumbers: true, smsPool: ['+14155550181'] } } } }] });
    const csv = [
      HEADER,
      'Ok,One,ok1@example.com,,,,,+14155550181,,,',
      'No,Email,not-an-email,,,,,,,,',
      ',Nameless,nameless@example.com,,,,,,,,',
      'Dup,Again,OK1@example.com,,,,,,,,',
      'Bad,Mobile,badmobile@example.com,12,,,,,,,',
      'Bad,Sms,badsms@example.com,,,,,+14155550999,,,',
      'Bad,Admin,badadmin@example.com,,,,maybe,,,,',
      'Bad,Licence,badlicence@example.com,,,,,,Unknown Product,,',
      'Ok,Two,ok2@example.com,,,,,,,,',
    ].join('\r\n');
    const res = await postCsv(a, csv);
    expect(res.status).to.equal(201);
    expect(res.body.status).to.equal('completed_with_errors');
    expect(res.body.counts).to.deep.equal({ rows: 9, created: 2, updated: 0, unchanged: 0, failed: 7 });
    const byLine = new Map<number, Json>(res.body.results.map((r: Json) => [r.line, r]));
    expect(byLine.get(2)).to.include({ outcome: 'created' });
    expect(byLine.get(3)!.reason).to.contain('"not-an-email" is not a valid email address');
    expect(byLine.get(4)!.reason).to.contain('First Name');
    expect(byLine.get(5)!.reason).to.equal('Email OK1@example.com is already on line 2 of the file; a user is imported once');
    expect(byLine.get(6)!.reason).to.contain('mobileNumber "12" is not a valid phone number');
    expect(byLine.get(7)!.reason).to.contain("not in the account's pool");
    expect(byLine.get(8)!.reason).to.contain('Account Admin must be yes, no, true or false');
    expect(byLine.get(9)!.reason).to.contain('no subscription for Unknown Product');
    expect(byLine.get(10)).to.include({ outcome: 'created' });
    expect(await userCount(a.accountId)).to.equal(2);
    expect((await userByEmail(a.accountId, 'ok1@example.com'))!.data[EXT].smsNumber).to.equal('+14155550181');

    const report = await get(a, `/Imports/${res.body.id}/report`);
    expect(report.status).to.equal(200);
    expect(report.headers['content-type']).to.match(/^text\/csv/);
    const rows = parse(report.text) as string[][];
    expect(rows[0]).to.deep.equal([...HEADER.split(','), 'Line', 'Outcome', 'Reason']);
    expect(rows).to.have.length(10);
    expect(rows[3]!.slice(0, 3)).to.deep.equal(['', 'Nameless', 'nameless@example.com']);
    expect(rows[3]!.slice(-3, -1)).to.deep.equal(['4', 'failed']);
    // The admin fixes the failed rows in the report and imports it back: Line, Outcome and Reason are ignored.
    const fixed = report.text
      .replace('not-an-email', 'noemail@example.com').replace(',Nameless,', 'Nora,Nameless,').replace('OK1@example.com', 'dup@example.com')
      .replace(',12,', ',+14155550123,').replace('+14155550999', '').replace('maybe', 'no').replace('Unknown Product', '');
    const back = await postCsv(a, fixed);
    expect(back.status).to.equal(201);
    expect(back.body.counts).to.deep.equal({ rows: 9, created: 7, updated: 0, unchanged: 2, failed: 0 });
    expect(await userCount(a.accountId)).to.equal(9);
  });

  it('when the header names an unknown column, then 400 names it and nothing is written, unless ignoreUnknownColumns=true', async () => {
    const a = await customer();
    // "E mail" is Email (names match ignoring case and spaces); "Shoe Size" is no column of the import.
    const fixed = 'first name,LASTNAME,E mail,Shoe Size\nA,B,a@example.com,42\n';
    const res = await postCsv(a, fixed);
    expect(res.status).to.equal(400);
    expect(res.body.scimType).to.equal('invalidValue');
    expect(res.body.detail).to.contain('Unknown column "Shoe Size"').and.not.contain('E mail');
    expect(await userCount(a.accountId)).to.equal(0);
    expect(await knex()('imports').where({ account_id: a.accountId })).to.have.length(0);
    const ok = await postCsv(a, fixed, '?ignoreUnknownColumns=true');
    expect(ok.status).to.equal(201);
    expect(ok.body.counts.created).to.equal(1);
  });

  it('when the body is not text/csv, or an option is not true/false, then 415 or 400 say what to send', async () => {
    const a = await customer();
    const json = await t.request.post(`${base(a.accountId)}/Imports`).set('Authorization', `Bearer ${a.token}`).send({ users: [] });
    expect(json.status).to.equal(415);
    expect(json.body.detail).to.contain('Content-Type: text/csv');
    const bad = await postCsv(a, `${HEADER}\n`, '?dryRun=maybe');
    expect(bad.status).to.equal(400);
    expect(bad.body.detail).to.contain('dryRun must be true or false');
    const mode = await postCsv(a, `${HEADER}\n`, '?mode=merge');
    expect(mode.status).to.equal(400);
    const empty = await postCsv(a, '');
    expect(empty.status).to.equal(400);
    expect(empty.body.detail).to.contain('The file is empty');
  });

  it('when the file is larger than IMPORT_MAX_BYTES, with a Content-Length or chunked, then 413 comes before anything is written', async () => {
    const a = await customer();
    const rows = Array.from({ length: 1500 }, (_, i) => `First${i},Last${i},big${i}@example.com,,,,,,,,`);
    const csv = `${HEADER}\n${rows.join('\n')}\n`;
    expect(Buffer.byteLength(csv)).to.be.greaterThan(64 * 1024);
    const res = await postCsv(a, csv);
    expect(res.status).to.equal(413);
    expect(res.body.detail).to.contain('IMPORT_MAX_BYTES');
    // Chunked: no Content-Length, so the limit is counted while the body is spooled.
    const server = http.createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: `${base(a.accountId)}/Imports`, headers: { Authorization: `Bearer ${a.token}`, 'Content-Type': 'text/csv', 'Transfer-Encoding': 'chunked' } }, (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode!, body }));
        });
        req.on('error', reject);
        for (let i = 0; i < csv.length; i += 4096) req.write(csv.slice(i, i + 4096));
        req.end();
      });
      expect(answer.status).to.equal(413);
      expect(JSON.parse(answer.body).detail).to.contain('IMPORT_MAX_BYTES');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(await userCount(a.accountId)).to.equal(0);
    expect(await knex()('imports').where({ account_id: a.accountId })).to.have.length(0);
  });

  it('when dryRun=true, then the counts and results say what would happen and nothing is written or sent', async () => {
    const a = await customer();
    await postCsv(a, `${HEADER}\nAda,Lovelace,ada@example.com,,,,,,,,Countess\n`);
    const before = await knex()('outbox').where({ account_id: a.accountId }).count({ n: '*' });
    const csv = `${HEADER}\nAda,Lovelace,ada@example.com,,,,,,,,Analyst\nNew,User,new@example.com,,,,,,,,\nBad,Email,bad@,,,,,,,,\n`;
    const res = await postCsv(a, csv, '?dryRun=true&sendWelcomeEmail=true');
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ dryRun: true, status: 'completed_with_errors' });
    expect(res.body.counts).to.deep.equal({ rows: 3, created: 1, updated: 1, unchanged: 0, failed: 1 });
    expect(res.body.results[1]).to.not.have.property('userId');
    expect(await userCount(a.accountId)).to.equal(1);
    expect((await userByEmail(a.accountId, 'ada@example.com'))!.data.title).to.equal('Countess');
    expect(await knex()('outbox').where({ account_id: a.accountId }).count({ n: '*' })).to.deep.equal(before);
  });

  it('when mode=create meets an existing email, then that row fails naming the user and the new ones are created', async () => {
    const a = await customer();
    await postCsv(a, `${HEADER}\nAda,Lovelace,ada@example.com,,,,,,,,\n`);
    const ada = await userByEmail(a.accountId, 'ada@example.com');
    const res = await postCsv(a, `${HEADER}\nAda,Byron,ADA@example.com,,,,,,,,\nNew,User,new@example.com,,,,,,,,\n`, '?mode=create');
    expect(res.body.counts).to.deep.equal({ rows: 2, created: 1, updated: 0, unchanged: 0, failed: 1 });
    expect(res.body.results[0].reason).to.contain(ada!.id).and.contain('mode upsert');
    expect((await userByEmail(a.accountId, 'ada@example.com'))!.data.name.familyName).to.equal('Lovelace');
  });

  it('when the file is ;-separated with a BOM and CRLF, or declares ISO-8859-1, then it is read right; bytes invalid in UTF-8 are a 400 naming the line', async () => {
    const a = await customer();
    const semi = `\ufeffFirst Name;Last Name;Email;Extensions\r\nJosé;Núñez;jose@example.com;"3001;3002"\r\n`;
    const res = await postCsv(a, semi);
    expect(res.status).to.equal(201);
    const jose = await userByEmail(a.accountId, 'jose@example.com');
    expect(jose!.data.name).to.deep.equal({ givenName: 'José', familyName: 'Núñez' });
    expect(jose!.data[EXT].extensions).to.deep.equal(['3001', '3002']);
    const latin1 = Buffer.from(`First Name,Last Name,Email\nRené,Müller,rene@example.com\n`, 'latin1');
    const ok = await postCsv(a, latin1, '', 'text/csv; charset=ISO-8859-1');
    expect(ok.status).to.equal(201);
    expect((await userByEmail(a.accountId, 'rene@example.com'))!.data.name).to.deep.equal({ givenName: 'René', familyName: 'Müller' });
    const bad = await postCsv(a, Buffer.concat([Buffer.from('First Name,Last Name,Email\nA,B,a@example.com\n'), latin1.subarray(latin1.indexOf(0x0a) + 1)]));
    expect(bad.status).to.equal(400);
    expect(bad.body.detail).to.contain('line 3').and.contain('not valid UTF-8');
    expect(await userByEmail(a.accountId, 'a@example.com')).to.equal(undefined);
    const unknown = await postCsv(a, latin1, '', 'text/csv; charset=klingon');
    expect(unknown.status).to.equal(400);
    expect(unknown.body.detail).to.contain('charset "klingon"');
  });

  it('when a cell is 1 MB long, then that row fails and the others are imported', async () => {
    const csv = `${HEADER}\nHuge,Title,huge@example.com,,,,,,,,"${'x'.repeat(1024 * 1024)}"\nSmall,Title,small@example.com,,,,,,,,Ok\n`;
    const big = await createTestApp({ IMPORT_MAX_BYTES: '4mb' });
    try {
      const b = await createAccountWithToken(big, { name: 'Big', type: 'customer' });
      const res = await big.request.post(`${base(b.accountId)}/Imports`).set('Authorization', `Bearer ${b.token}`).set('Content-Type', 'text/csv').send(csv);
      expect(res.status).to.equal(201);
      expect(res.body.counts).to.deep.equal({ rows: 2, created: 1, updated: 0, unchanged: 0, failed: 1 });
      expect(res.body.results[0].reason).to.contain('Title is 1048576 characters long');
    } finally {
      await big.close();
    }
  });

  it('when a row would change an attribute an identity provider owns, then the row fails whole naming the owner', async () => {
    const a = await customer();
    const idp = await t.request.post(`${base(a.accountId)}/Tokens`).set('Authorization', `Bearer ${a.token}`).send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' });
    const pushed = await t.request.post(`${base(a.accountId)}/Users`).set('Authorization', `Bearer ${idp.body.token}`).set('Content-Type', scimJson)
      .send({ schemas: [USER], userName: 'synced@example.com', title: 'Engineer', ...formFields('synced@example.com', 'Syn', 'Ced') });
    expect(pushed.status).to.equal(201);
    const res = await postCsv(a, `First Name,Last Name,Email,Title,Department\nSyn,Ced,synced@example.com,Manager,Sales\n`);
    expect(res.body.counts.failed).to.equal(1);
    expect(res.body.results[0].reason).to.contain('title (owned by source').and.contain('scim');
    const user = await userByEmail(a.accountId, 'synced@example.com');
    expect(user!.data.title).to.equal('Engineer');
    expect(user!.data['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']).to.equal(undefined);
    // The same values as the owner's pass: the row is unchanged.
    const same = await postCsv(a, `First Name,Last Name,Email,Title\nSyn,Ced,synced@example.com,Engineer\n`);
    expect(same.body.counts.unchanged).to.equal(1);
  });

  it('when more than 1,000 rows are imported, then 202 answers with status running and GET /Imports/{id} shows the end', async () => {
    const big = await createTestApp({ IMPORT_MAX_BYTES: '4mb' });
    try {
      const b = await createAccountWithToken(big, { name: 'Many', type: 'customer' });
      const rows = Array.from({ length: 1200 }, (_, i) => `First${i},Last${i},many${i}@example.com,,,,,,,,`);
      const res = await big.request.post(`${base(b.accountId)}/Imports`).set('Authorization', `Bearer ${b.token}`).set('Content-Type', 'text/csv').send(`${HEADER}\n${rows.join('\n')}\n`);
      expect(res.status).to.equal(202);
      expect(res.body.status).to.equal('running');
      expect(res.body.counts.rows).to.equal(1200);
      expect(res.body).to.not.have.property('results');
      await big.deps.imports!.drain();
      const done = await big.request.get(`${base(b.accountId)}/Imports/${res.body.id}`).set('Authorization', `Bearer ${b.token}`);
      expect(done.body.status).to.equal('succeeded');
      expect(done.body.counts).to.deep.equal({ rows: 1200, created: 1200, updated: 0, unchanged: 0, failed: 0 });
      expect(done.body.results).to.have.length(1200);
      expect(done.body.results[1199].line).to.equal(1201);
      const lean = await big.request.get(`${base(b.accountId)}/Imports/${res.body.id}?excludedAttributes=results`).set('Authorization', `Bearer ${b.token}`);
      expect(lean.body).to.not.have.property('results');
      expect(Number(((await big.deps.db.knex('users').where({ account_id: b.accountId }).count({ n: '*' })) as Json[])[0]!.n)).to.equal(1200);
    } finally {
      await big.close();
    }
  });

  it('when rows of later batches take what earlier batches took or gave up, then each row is decided as if the rows before it were written, though batches overlap', async () => {
    const big = await createTestApp({ IMPORT_MAX_BYTES: '4mb' });
    try {
      const b = await createAccountWithToken(big, { name: 'Overlap', type: 'customer' });
      const patched = await big.request.patch(`/scim/v2/Accounts/${b.accountId}`).set('Authorization', `Bearer ${big.operatorToken}`).set('Content-Type', scimJson)
        .send({ schemas: [PATCH], Operations: [{ op: 'replace', value: { settings: { miTeamMeetings: true }, subscriptions: [{ product: 'MiTeam Meetings', seats: 502 }] } }] });
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
      const post = (body: string) => big.request.post(`${base(b.accountId)}/Imports`).set('Authorization', `Bearer ${b.token}`).set('Content-Type', 'text/csv').send(body);
      expect((await post(`${HEADER}\nEx,Isting,existing@example.com,,,7000,,,,,\n`)).body.counts.created).to.equal(1);
      // Batches of 500 rows: lines 2-501, 502-1001, 1002-1501, 1502-1601.
      const row = (line: number, extension: string, licence = '') => `N${line},L${line},n${line}@example.com,,,${extension},,,${licence},,`;
      const rows = new Map<number, string>();
      for (let line = 2; line <= 1601; line++) rows.set(line, row(line, String(100_000 + line), line <= 501 ? 'MiTeam Meetings' : ''));
      rows.set(502, row(502, '100502', 'MiTeam Meetings')); // seat 501
      rows.set(503, row(503, '100503', 'MiTeam Meetings')); // seat 502, the last
      rows.set(504, row(504, '100504', 'MiTeam Meetings')); // no seat left: batch 1's 500 count
      rows.set(505, row(505, '100002')); // batch 1 (line 2) took it
      rows.set(506, 'Ex,Isting,existing@example.com,,,7001,,,,,'); // gives up 7000
      rows.set(1002, row(1002, '7000')); // free since line 506
      rows.set(1003, row(1003, '100600')); // batch 2 (line 600) took it
      rows.set(1004, row(1004, '100100')); // batch 1 (line 100) took it
      rows.set(1502, row(1502, '7000')); // batch 3 (line 1002) took it
      const res = await post(`${HEADER}\n${[...rows.values()].join('\n')}\n`);
      expect(res.status).to.equal(202);
      await big.deps.imports!.drain();
      const done = await big.request.get(`${base(b.accountId)}/Imports/${res.body.id}`).set('Authorization', `Bearer ${b.token}`);
      expect(done.body.status).to.equal('completed_with_errors');
      const failed = (done.body.results as Json[]).filter((r) => r.outcome === 'failed').map((r) => `${r.line}: ${r.reason}`);
      expect(failed).to.have.length(5);
      expect(failed[0]).to.match(/^504: .*MiTeam Meetings.*seat/i);
      expect(failed.slice(1)).to.deep.equal([
        '505: One or more of the attribute values are already in use: extensions (100002)',
        '1003: One or more of the attribute values are already in use: extensions (100600)',
        '1004: One or more of the attribute values are already in use: extensions (100100)',
        '1502: One or more of the attribute values are already in use: extensions (7000)',
      ]);
      expect(done.body.counts).to.deep.equal({ rows: 1600, created: 1594, updated: 1, unchanged: 0, failed: 5 });
      const holders = await big.deps.db.knex('user_extensions').where({ account_id: b.accountId }).whereIn('number', ['7000', '7001']).select('number', 'user_id');
      const created1002 = (done.body.results as Json[]).find((r) => r.line === 1002)!.userId;
      const existing = (done.body.results as Json[]).find((r) => r.line === 506)!.userId;
      expect(Object.fromEntries(holders.map((h: Json) => [h.number, h.user_id]))).to.deep.equal({ 7000: created1002, 7001: existing });
      const licensed = await big.deps.db.knex('users').where({ account_id: b.accountId }).whereRaw(`data->'${EXT}'->'licenses' @> '["MiTeam Meetings"]'::jsonb`).count({ n: '*' });
      expect(Number((licensed as Json[])[0]!.n)).to.equal(502);
    } finally {
      await big.close();
    }
  });

  it('when an email comes back in a later batch, then each repeat fails naming the first line, whether the batch before or an earlier one gave it, and a dry run says the same', async () => {
    const big = await createTestApp({ IMPORT_MAX_BYTES: '4mb' });
    try {
      const b = await createAccountWithToken(big, { name: 'Repeats', type: 'customer' });
      const post = (body: string, query = '') => big.request.post(`${base(b.accountId)}/Imports${query}`).set('Authorization', `Bearer ${b.token}`).set('Content-Type', 'text/csv').send(body);
      // Batches of 500 rows: lines 2-501, 502-1001, 1002-1301.
      const rows = new Map<number, string>();
      for (let line = 2; line <= 1301; line++) rows.set(line, `N${line},L${line},n${line}@example.com,,,,,,,,`);
      rows.set(600, 'Re,Peat,N2@Example.com,,,,,,,,'); // batch 2: the batch before it gave it (line 2)
      rows.set(1100, 'Re,Peat,n2@example.com,,,,,,,,'); // batch 3: a committed batch gave it (line 2)
      rows.set(1200, 'Re,Peat,n2@example.com,,,,,,,,'); // and again in the same batch: still line 2
      rows.set(1050, 'Re,Peat,n700@example.com,,,,,,,,'); // batch 3: the batch before it gave it (line 700)
      rows.set(1250, 'Re,Peat,n1050@example.com,,,,,,,,'); // n1050 is not in the file before line 1250: created
      const file = `${HEADER}\n${[...rows.values()].join('\n')}\n`;
      const expected = [
        '600: Email N2@Example.com is already on line 2 of the file; a user is imported once',
        '1050: Email n700@example.com is already on line 700 of the file; a user is imported once',
        '1100: Email n2@example.com is already on line 2 of the file; a user is imported once',
        '1200: Email n2@example.com is already on line 2 of the file; a user is imported once',
      ];
      for (const query of ['?dryRun=true', '']) {
        const res = await post(file, query);
        expect(res.status).to.equal(202);
        await big.deps.imports!.drain();
        const done = await big.request.get(`${base(b.accountId)}/Imports/${res.body.id}`).set('Authorization', `Bearer ${b.token}`);
        const failed = (done.body.results as Json[]).filter((r) => r.outcome === 'failed').map((r) => `${r.line}: ${r.reason}`);
        expect(failed, query).to.deep.equal(expected);
        expect(done.body.counts, query).to.deep.equal({ rows: 1300, created: 1296, updated: 0, unchanged: 0, failed: 4 });
      }
      const users = Number(((await big.deps.db.knex('users').where({ account_id: b.accountId }).count({ n: '*' })) as Json[])[0]!.n);
      expect(users).to.equal(1296);
      const n2 = await big.deps.db.knex('users').where({ account_id: b.accountId }).whereRaw('lower(primary_email) = ?', ['n2@example.com']).first();
      expect(n2.data.name).to.deep.equal({ givenName: 'N2', familyName: 'L2' });
    } finally {
      await big.close();
    }
  });

  it('when imports are listed, then newest come first without results, and after 30 days they are gone', async () => {
    const a = await customer();
    const first = await postCsv(a, `${HEADER}\nA,B,list1@example.com,,,,,,,,\n`);
    t.clock.advance(1000);
    const second = await postCsv(a, `${HEADER}\nA,B,list2@example.com,,,,,,,,\n`);
    const list = await get(a, '/Imports');
    expect(list.status).to.equal(200);
    expect(list.body.totalResults).to.equal(2);
    expect(list.body.Resources.map((r: Json) => r.id)).to.deep.equal([second.body.id, first.body.id]);
    expect(list.body.Resources[0]).to.not.have.property('results');
    t.clock.advance(30 * 24 * 60 * 60 * 1000);
    expect((await get(a, `/Imports/${first.body.id}`)).status).to.equal(404);
    expect((await get(a, '/Imports/not-an-id')).status).to.equal(404);
    expect((await get(a, '/Imports/not-an-id/report')).status).to.equal(404);
    expect((await get(a, '/Imports')).body.totalResults).to.equal(0);
    // The next import deletes them.
    await postCsv(a, `${HEADER}\n`);
    expect(await knex()('imports').whereIn('id', [first.body.id, second.body.id])).to.have.length(0);
  });

  it('when a provisioning token imports, then 403', async () => {
    const a = await customer();
    const idp = await t.request.post(`${base(a.accountId)}/Tokens`).set('Authorization', `Bearer ${a.token}`).send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' });
    const res = await postCsv({ accountId: a.accountId, token: idp.body.token }, `${HEADER}\n`);
    expect(res.status).to.equal(403);
  });

  it('when the Users list is asked for as text/csv, then every filtered user comes in the import columns, formula cells escaped but E.164 numbers not, and it imports back unchanged', async () => {
    const rows = Array.from({ length: 1100 }, (_, i) => `F${i},L${i},exp${i}@example.com,,,,,,,,`);
    const big = await createTestApp({ IMPORT_MAX_BYTES: '4mb' });
    try {
      const b = await createAccountWithToken(big, { name: 'Export', type: 'customer' });
      const imp = await big.request.post(`${base(b.accountId)}/Imports`).set('Authorization', `Bearer ${b.token}`).set('Content-Type', 'text/csv')
        .send(`${HEADER}\n=cmd|' /C calc'!A0,-Minus,formula@example.com,+14155550100,,,yes,,,@Sales,"+Lead"\n${rows.join('\n')}\n`);
      expect(imp.status).to.equal(202);
      await big.deps.imports!.drain();
      const res = await big.request.get(`${base(b.accountId)}/Users?sortBy=userName`).set('Authorization', `Bearer ${b.token}`).set('Accept', 'text/csv');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/csv/);
      const table = parse(res.text) as string[][];
      expect(table[0]).to.deep.equal([...HEADER.split(','), 'Registered', 'Source', 'Modified On', 'Modified By']);
      expect(table).to.have.length(1 + 1101);
      expect(table[1]![2]).to.equal('exp0@example.com');
      const formula = table.find((r) => r[2] === 'formula@example.com')!;
      expect(formula.slice(0, 11)).to.deep.equal(["'=cmd|' /C calc'!A0", "'-Minus", 'formula@example.com', '+14155550100', 'US', '', 'yes', '', '', "'@Sales", "'+Lead"]);
      expect(formula.slice(11, 13)).to.deep.equal(['no', 'local']);
      const filtered = await big.request.get(`${base(b.accountId)}/Users?filter=${encodeURIComponent('userName sw "exp1"')}`).set('Authorization', `Bearer ${b.token}`).set('Accept', 'text/csv');
      // exp1, exp10-exp19, exp100-exp199, exp1000-exp1099, after the header.
      expect((parse(filtered.text) as string[][]).length).to.equal(1 + 1 + 10 + 100 + 100);
      const badFilter = await big.request.get(`${base(b.accountId)}/Users?filter=nope`).set('Authorization', `Bearer ${b.token}`).set('Accept', 'text/csv');
      expect(badFilter.status).to.equal(400);
      // The export imports back as it is: the read-only columns are ignored and the leading ' removed.
      const back = await big.request.post(`${base(b.accountId)}/Imports`).set('Authorization', `Bearer ${b.token}`).set('Content-Type', 'text/csv').send(res.text);
      await big.deps.imports!.drain();
      const done = await big.request.get(`${base(b.accountId)}/Imports/${back.body.id}?excludedAttributes=results`).set('Authorization', `Bearer ${b.token}`);
      expect(done.body.counts).to.deep.equal({ rows: 1101, created: 0, updated: 0, unchanged: 1101, failed: 0 });
      const user = await big.deps.db.knex('users').where({ account_id: b.accountId }).whereRaw('primary_email = ?', ['formula@example.com']).first();
      expect(user.data.name).to.deep.equal({ givenName: "=cmd|' /C calc'!A0", familyName: '-Minus' });
    } finally {
      await big.close();
    }
  });
});
