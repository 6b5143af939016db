import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { guideBlocks, printedLines, runBash, scratchDir, startServerProcess, type ServerProcess } from '../support/guide.js';
import { startSmtpTestServer, type SmtpTestServer } from '../support/smtp-test-server.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

async function addUserAsAdmin(server: ServerProcess, dataDir: string, email: string, givenName: string): Promise<void> {
  const operator = fs.readFileSync(path.join(dataDir, 'bootstrap-token'), 'utf8').trim();
  const call = async (url: string, token: string, body: unknown) => {
    const res = await fetch(`${server.url}${url}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' }, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).to.be.oneOf([200, 201]);
    return (await res.json()) as Record<string, string>;
  };
  const account = await call('/scim/v2/Accounts', operator, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Relay Test', type: 'customer' });
  const admin = await call(`/accounts/${account.id}/scim/v2/Tokens`, operator, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'account-admin' });
  await call('/scim/v2/Users', admin.token, { schemas: [USER], userName: email, name: { givenName, familyName: 'Test' }, emails: [{ value: email, primary: true }] });
}

// docs/email.md followed literally: without SMTP_URL the welcome email lands in data/mail (the guide's blocks in a
// second shell beside `switchboard serve`), and the guide's SMTP_URL example, pointed at a real SMTP server, logs
// in with the example's percent-encoded user and password and delivers the email.
describe('docs/email.md, followed literally', function () {
  // Upper bounds for a loaded 2-core machine (servers, npx and slapd start in them), not timings.
  this.timeout(600_000);
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  let smtp: SmtpTestServer | undefined;
  after(async () => {
    for (const server of servers) await server.stop();
    await smtp?.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when SMTP_URL is not set, then the welcome email is an .eml file in data/mail greeting the user by first name, and the log names the file', async () => {
    const dir = scratchDir('email');
    dirs.push(dir);
    const server = await startServerProcess({ cwd: dir, env: { SWITCHBOARD_BOOTSTRAP_TOKEN: '', SCHEDULER_ENABLED: 'false', SMTP_URL: '' } });
    servers.push(server);
    const blocks = guideBlocks('docs/email.md').filter((b) => !b.attrs.name);
    const result = await runBash(blocks, { cwd: dir, env: { PORT: String(server.port), SWITCHBOARD_URL: undefined, SWITCHBOARD_TOKEN: undefined } });
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0);
    expect(result.stdout.trim().split('\n')).to.deep.equal(printedLines('docs/email.md'));
    const [file] = fs.readdirSync(path.join(dir, 'data', 'mail'));
    const mailDir = fs.realpathSync(path.join(dir, 'data', 'mail'));
    expect(server.output()).to.contain(`"msg":"mail is written as .eml files under ${mailDir} because SMTP_URL is not set"`);
    expect(server.output()).to.contain(`"msg":"mail to grace@example.com written to ${path.join(mailDir, file)}"`);
  });

  it("when the guide's SMTP_URL example names a real SMTP server, then the server logs in with the decoded user and password and the welcome email arrives", async () => {
    const example = guideBlocks('docs/email.md').find((b) => b.attrs.name === 'smtp')!;
    const url = /SMTP_URL='([^']+)'/.exec(example.code)![1];
    const from = /MAIL_FROM='([^']+)'/.exec(example.code)![1];
    const parsed = new URL(url);
    smtp = await startSmtpTestServer({ auth: { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } });
    expect(smtp.url).to.not.equal(url);
    const dir = scratchDir('email-smtp');
    dirs.push(dir);
    const server = await startServerProcess({ cwd: dir, env: { SWITCHBOARD_BOOTSTRAP_TOKEN: '', SCHEDULER_ENABLED: 'false', SMTP_URL: url.replace('smtp.example.com:587', `127.0.0.1:${smtp.port}`), MAIL_FROM: from } });
    servers.push(server);
    expect(server.output()).to.contain(`mail is sent over SMTP to smtp://switchboard%40example.com:***@127.0.0.1:${smtp.port}`);
    await addUserAsAdmin(server, path.join(dir, 'data'), 'ada@example.com', 'Ada');
    const [mail] = await smtp.waitFor(1, 60_000);
    expect(mail.from?.value[0]).to.deep.include({ name: 'Example Corp', address: 'switchboard@example.com' });
    expect(mail.subject).to.equal('Welcome to Relay Test');
    expect(mail.text).to.match(/^Hello Ada,/);
    expect(fs.existsSync(path.join(dir, 'data', 'mail'))).to.equal(false);
  });
});
