import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { startSmtpTestServer } from '../support/smtp-test-server.js';
import { createLogger } from '../../src/lib/logger.js';
import {
  createFileMailer,
  createMailerFromConfig,
  createSmtpMailer,
  emlFileName,
  isPermanentMailError,
  type MailerMessage,
} from '../../src/services/mail/mailer.js';

function message(overrides: Partial<MailerMessage> = {}): MailerMessage {
  return {
    from: 'Switchboard <no-reply@switchboard.test>',
    to: 'ann@example.test',
    subject: 'Welcome to Acme',
    text: 'Hello Ann\nhttps://portal.example.test/register?token=abc\n',
    html: '<p>Hello Ann</p>',
    messageId: '<11111111-2222-4333-8444-555555555555@switchboard.test>',
    ...overrides,
  };
}

function captureLogs(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, stream };
}

describe('mailers', () => {
  it('when the file mailer sends a message, then a parseable <message-id>.eml file is written, once per Message-ID', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-mail-'));
    const mailer = createFileMailer(path.join(dir, 'mail'));

    await mailer.send(message());
    await mailer.send(message({ subject: 'Welcome to Acme (retry)' }));
    await mailer.close();

    const files = fs.readdirSync(path.join(dir, 'mail'));
    expect(files).to.deep.equal(['11111111-2222-4333-8444-555555555555@switchboard.test.eml']);
    const parsed = await simpleParser(fs.readFileSync(path.join(dir, 'mail', files[0])));
    expect(parsed.messageId).to.equal('<11111111-2222-4333-8444-555555555555@switchboard.test>');
    expect(parsed.subject).to.equal('Welcome to Acme (retry)');
    expect(parsed.text).to.contain('https://portal.example.test/register?token=abc');
    expect(parsed.html).to.contain('<p>Hello Ann</p>');
  });

  it('when a Message-ID holds characters unsafe in a file name, then the file name replaces them', () => {
    expect(emlFileName('<a/../b c@x.test>')).to.equal('a_.._b_c@x.test.eml');
  });

  it('when SMTP_URL is not set, then mail goes to DATA_DIR/mail, the log says so at start and names each .eml file written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-mail-'));
    const { lines, stream } = captureLogs();
    const mailer = createMailerFromConfig({ dataDir: dir, logger: createLogger({ destination: stream }) });

    await mailer.send(message());

    const [file] = fs.readdirSync(path.join(dir, 'mail'));
    expect(file).to.equal('11111111-2222-4333-8444-555555555555@switchboard.test.eml');
    expect(lines.map((l) => l.msg)).to.include(`mail is written as .eml files under ${path.join(dir, 'mail')} because SMTP_URL is not set`);
    // Each file is logged with its path, so the developer finds the email just sent.
    const written = lines.find((l) => l.file === path.join(dir, 'mail', file));
    expect(written?.msg).to.equal(`mail to ann@example.test written to ${path.join(dir, 'mail', file)}`);
  });

  it('when SMTP_URL is set, then mail goes over SMTP and the logged URL hides the password', async () => {
    const server = await startSmtpTestServer({ auth: { user: 'relay', pass: 'hunter2' } });
    const { lines, stream } = captureLogs();
    const mailer = createMailerFromConfig({ smtpUrl: server.url, dataDir: '/nonexistent', logger: createLogger({ destination: stream }) });
    try {
      await mailer.send(message());
      expect(server.messages).to.have.length(1);
      expect(server.messages[0].messageId).to.equal(message().messageId);
      expect(JSON.stringify(lines)).to.contain('mail is sent over SMTP').and.not.contain('hunter2');
    } finally {
      await mailer.close();
      await server.stop();
    }
  });

  it('when the SMTP login is refused, then the error is not permanent (an operator fixes the credentials)', async () => {
    const server = await startSmtpTestServer({ auth: { user: 'relay', pass: 'hunter2' } });
    const mailer = createSmtpMailer(server.url.replace('hunter2', 'wrong'));
    try {
      const error = await mailer.send(message()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(Error);
      expect(isPermanentMailError(error)).to.equal(false);
      expect(server.messages).to.have.length(0);
    } finally {
      await mailer.close();
      await server.stop();
    }
  });

  it('when the server answers 451 or 550, then only 550 is permanent', async () => {
    for (const [failWith, permanent] of [
      ['temporary', false],
      ['permanent', true],
    ] as const) {
      const server = await startSmtpTestServer({ failFirst: 1, failWith });
      const mailer = createSmtpMailer(server.url);
      try {
        const error = await mailer.send(message()).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isPermanentMailError(error), failWith).to.equal(permanent);
      } finally {
        await mailer.close();
        await server.stop();
      }
    }
  });
});
