import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startExportServer, type ExportServer } from '../../test/support/https-export-server.js';
import { putExport, startSshd, type Sshd } from '../../test/support/sshd.js';
import { ConnectorError, openTransport, parseFileLocation, SftpSessionPool, type ExportMeta, type FileLocation, type OpenResult, type RawFileLocation } from './index.js';

function location(raw: RawFileLocation): FileLocation {
  const issues: string[] = [];
  const parsed = parseFileLocation(raw, issues);
  if (!parsed || issues.length > 0) throw new Error(issues.join('; '));
  return parsed;
}

async function text(opened: OpenResult): Promise<string> {
  if (opened.unchanged) throw new Error('unchanged');
  const chunks: Buffer[] = [];
  for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).to.be.instanceOf(ConnectorError);
  return error as ConnectorError;
}

describe('connectors/sdk file transports', () => {
  describe('sftp (OpenSSH sshd)', () => {
    let sshd: Sshd;
    before(async () => {
      sshd = await startSshd();
    });
    after(async () => sshd?.stop());

    const at = (path: string, creds: Partial<RawFileLocation> = {}) =>
      openTransport(location({ location: sshd.url(path), hostKeySha256: sshd.hostKeySha256, password: sshd.password, ...creds }), { timeoutMs: 10_000 });

    it('when logging in with the password or the private key, then the file is read', async () => {
      await putExport(sshd, 'users.csv', 'a,b\n1,2\n');
      for (const creds of [{ password: sshd.password }, { password: undefined, privateKeyPem: sshd.privateKeyPem }]) {
        const transport = at(`${sshd.dir}/users.csv`, creds);
        try {
          expect(await text(await transport.open())).to.equal('a,b\n1,2\n');
        } finally {
          await transport.close();
        }
      }
    });

    it('when the pinned host key is not the server\'s, then the connection is refused showing the server\'s fingerprint', async () => {
      const pinned = `SHA256:${'A'.repeat(43)}`;
      const transport = at(`${sshd.dir}/users.csv`, { hostKeySha256: pinned });
      const error = await failure(transport.open());
      expect(error.kind).to.equal('auth');
      expect(error.message).to.include(`the server offered ${sshd.hostKeySha256}`);
      expect(error.message).to.include(`pins ${pinned}`);
    });

    it('when the password is wrong, then the error is an auth failure naming the user', async () => {
      const error = await failure(at(`${sshd.dir}/users.csv`, { password: 'wrong' }).open());
      expect(error.kind).to.equal('auth');
      expect(error.message).to.match(/login refused for user switchboard-sftp \(password\)/);
    });

    it('when the path does not exist, then the error names the path', async () => {
      const transport = at(`${sshd.dir}/nope.csv`);
      const error = await failure(transport.open().finally(() => transport.close()));
      expect(error.message).to.include(`${sshd.dir}/nope.csv: no such file`);
    });

    it('when a pattern is set, then the newest matching file of the directory is read', async () => {
      await putExport(sshd, 'mivb-1.csv', 'old\n');
      await putExport(sshd, 'mivb-2.csv', 'new\n');
      await putExport(sshd, 'other.csv', 'newest but not matching\n');
      await utimes(join(sshd.dir, 'mivb-1.csv'), new Date(), new Date(Date.now() - 60_000));
      await utimes(join(sshd.dir, 'mivb-2.csv'), new Date(), new Date(Date.now() - 30_000));
      const transport = openTransport(location({ location: sshd.url(sshd.dir), hostKeySha256: sshd.hostKeySha256, password: sshd.password }), { pattern: 'mivb-*.csv', timeoutMs: 10_000 });
      try {
        const opened = await transport.open();
        expect(opened.meta.file).to.equal(`${sshd.dir}/mivb-2.csv`);
        expect(await text(opened)).to.equal('new\n');
      } finally {
        await transport.close();
      }
    });

    it('when the same version was read a while ago, then open answers unchanged without reading; a rewrite is read', async () => {
      await putExport(sshd, 'same.csv', 'x\n');
      await utimes(join(sshd.dir, 'same.csv'), new Date(), new Date(Date.now() - 10_000));
      const transport = at(`${sshd.dir}/same.csv`);
      try {
        const first = await transport.open();
        await text(first);
        const previous = { ...first.meta, readAtMs: Date.now() };
        expect((await transport.open(previous)).unchanged).to.equal(true);
        await putExport(sshd, 'same.csv', 'y\n');
        expect(await text(await transport.open(previous))).to.equal('y\n');
      } finally {
        await transport.close();
      }
    });

    it('when a file is put twice, then it is written once and the second put finds it there', async () => {
      const transport = at(sshd.dir);
      try {
        expect(await transport.put('switchboard-username-1.csv', 'one\n')).to.equal('written');
        expect(await transport.put('switchboard-username-1.csv', 'two\n')).to.equal('exists');
      } finally {
        await transport.close();
      }
      expect(await readFile(join(sshd.dir, 'switchboard-username-1.csv'), 'utf8')).to.equal('one\n');
    });

    describe('sessions kept between runs (SftpSessionPool)', () => {
      const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
      async function until(test: () => boolean): Promise<void> {
        for (const deadline = Date.now() + 5000; !test(); await new Promise((r) => setTimeout(r, 20))) {
          if (Date.now() > deadline) throw new Error('timed out');
        }
      }
      /** One run of a source: open (unchanged when `previous` is the version read), read, close. */
      async function run(pool: SftpSessionPool, owner: string, path: string, previous?: ExportMeta, creds: Partial<RawFileLocation> = {}): Promise<OpenResult & { text?: string }> {
        const transport = openTransport(location({ location: sshd.url(path), hostKeySha256: sshd.hostKeySha256, password: sshd.password, ...creds }), { timeoutMs: 10_000, sessions: { pool, owner } });
        try {
          const opened = await transport.open(previous);
          return opened.unchanged ? opened : { ...opened, text: await text(opened) };
        } finally {
          await transport.close();
        }
      }

      it('when a source runs again, then its session is reused (no new login), other sources and other credentials get their own, and an idle one is ended', async () => {
        await putExport(sshd, 'kept.csv', 'k\n');
        await utimes(join(sshd.dir, 'kept.csv'), new Date(), new Date(Date.now() - 10_000));
        const pool = new SftpSessionPool({ idleMs: 1000 });
        try {
          const logins = sshd.logins();
          const first = await run(pool, 's1', `${sshd.dir}/kept.csv`);
          expect(first.text).to.equal('k\n');
          await until(() => sshd.logins() === logins + 1);
          const second = await run(pool, 's1', `${sshd.dir}/kept.csv`, { ...first.meta, readAtMs: Date.now() });
          expect(second.unchanged).to.equal(true);
          expect((await run(pool, 's1', `${sshd.dir}/kept.csv`)).text).to.equal('k\n');
          await settle();
          expect(sshd.logins()).to.equal(logins + 1);
          expect(pool.opened).to.equal(1);
          await run(pool, 's2', `${sshd.dir}/kept.csv`);
          await run(pool, 's1', `${sshd.dir}/kept.csv`, undefined, { password: undefined, privateKeyPem: sshd.privateKeyPem });
          await until(() => sshd.logins() === logins + 3);
          expect(pool.opened).to.equal(3);
          // Past idleMs, the kept session was ended: the next run logs in again.
          await new Promise((resolve) => setTimeout(resolve, 1500));
          await run(pool, 's1', `${sshd.dir}/kept.csv`);
          await until(() => sshd.logins() === logins + 4);
        } finally {
          await pool.close();
        }
      });

      it('when the server drops the kept connection, then the next run opens a new session and reads', async () => {
        await putExport(sshd, 'dropped.csv', 'd\n');
        const pool = new SftpSessionPool({ idleMs: 60_000 });
        try {
          expect((await run(pool, 's1', `${sshd.dir}/dropped.csv`)).text).to.equal('d\n');
          const logins = sshd.logins();
          await sshd.dropConnections();
          // At once, before the client may have seen the connection end, and again later.
          expect((await run(pool, 's1', `${sshd.dir}/dropped.csv`)).text).to.equal('d\n');
          await sshd.dropConnections();
          await settle();
          expect((await run(pool, 's1', `${sshd.dir}/dropped.csv`)).text).to.equal('d\n');
          await until(() => sshd.logins() === logins + 2);
          expect(pool.opened).to.equal(3);
        } finally {
          await pool.close();
        }
      });

      it('when the server at the address is replaced by one with another host key, then the run fails showing the new fingerprint', async () => {
        const old = await startSshd();
        const pool = new SftpSessionPool({ idleMs: 60_000 });
        let replacement: Sshd | undefined;
        try {
          await putExport(old, 'users.csv', 'u\n');
          const pinned = { location: old.url(`${old.dir}/users.csv`), hostKeySha256: old.hostKeySha256, password: old.password };
          const read = () => {
            const transport = openTransport(location(pinned), { timeoutMs: 10_000, sessions: { pool, owner: 's1' } });
            return transport.open().then(text).finally(() => transport.close());
          };
          expect(await read()).to.equal('u\n');
          await old.dropConnections();
          await old.stop();
          replacement = await startSshd({ port: old.port });
          const error = await failure(read());
          expect(error.kind).to.equal('auth');
          expect(error.message).to.include(`the server offered ${replacement.hostKeySha256}`);
        } finally {
          await pool.close();
          await replacement?.stop();
          await old.stop();
        }
      });
    });
  });

  describe('https (self-signed certificate)', () => {
    let server: ExportServer;
    before(async () => {
      server = await startExportServer({ bearerToken: 'tok' });
      server.put('/exports/users.csv', 'a,b\n1,2\n', new Date(Date.now() - 3600_000));
    });
    after(async () => server?.stop());

    it('when caCertPem trusts the server, then the file is read with the bearer token', async () => {
      const transport = openTransport(location({ location: server.url('/exports/users.csv'), caCertPem: server.caCertPem, bearerToken: 'tok' }), { timeoutMs: 5000 });
      expect(await text(await transport.open())).to.equal('a,b\n1,2\n');
      expect(server.requests.at(-1)?.authorization).to.equal('Bearer tok');
    });

    it('when the certificate is not trusted, then the error says to set caCertPem', async () => {
      const transport = openTransport(location({ location: server.url('/exports/users.csv'), bearerToken: 'tok' }), { timeoutMs: 5000 });
      const error = await failure(transport.open());
      expect(error.message).to.match(/set caCertPem/);
    });

    it('when the token is wrong, then the error is an auth failure', async () => {
      const transport = openTransport(location({ location: server.url('/exports/users.csv'), caCertPem: server.caCertPem, bearerToken: 'bad' }), { timeoutMs: 5000 });
      const error = await failure(transport.open());
      expect(error.kind).to.equal('auth');
      expect(error.message).to.match(/HTTP 401/);
    });

    it('when the previous version\'s ETag is sent, then the server answers 304 and open says unchanged in one request', async () => {
      const transport = openTransport(location({ location: server.url('/exports/users.csv'), caCertPem: server.caCertPem, bearerToken: 'tok' }), { timeoutMs: 5000 });
      const first = await transport.open();
      await text(first);
      const before = server.requests.length;
      const second = await transport.open(first.meta);
      expect(second.unchanged).to.equal(true);
      expect(server.requests.length - before).to.equal(1);
      expect(server.requests.at(-1)).to.include({ status: 304, ifNoneMatch: first.meta.etag });
    });

    it('when only Last-Modified is known, then If-Modified-Since is sent and answered 304', async () => {
      const transport = openTransport(location({ location: server.url('/exports/users.csv'), caCertPem: server.caCertPem, bearerToken: 'tok' }), { timeoutMs: 5000 });
      const first = await transport.open();
      await text(first);
      const second = await transport.open({ ...first.meta, etag: undefined });
      expect(second.unchanged).to.equal(true);
      expect(server.requests.at(-1)).to.include({ status: 304, ifModifiedSince: first.meta.lastModified });
    });
  });

  describe('file', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'switchboard-file-'));
    });
    after(async () => rm(dir, { recursive: true, force: true }));

    it('when the location is a local file, then it is read; a missing one is named', async () => {
      await writeFile(join(dir, 'u.csv'), 'a\n');
      expect(await text(await openTransport(location({ location: `file://${dir}/u.csv` }), { timeoutMs: 1000 }).open())).to.equal('a\n');
      const error = await failure(openTransport(location({ location: `file://${dir}/none.csv` }), { timeoutMs: 1000 }).open());
      expect(error.message).to.equal(`file://${dir}/none.csv: no such file`);
    });

    it('when a pattern matches nothing, then the error names the pattern', async () => {
      const error = await failure(openTransport(location({ location: `file://${dir}` }), { pattern: 'mivb-*.csv', timeoutMs: 1000 }).open());
      expect(error.message).to.equal(`file://${dir}: no file matches mivb-*.csv`);
    });
  });

  describe('location validation', () => {
    it('when an sftp location lacks its host key or credentials, then each problem is named', () => {
      const issues: string[] = [];
      parseFileLocation({ location: 'sftp://host/exports' }, issues);
      expect(issues).to.include.members([
        'location: name the SFTP user (sftp://user@host/path)',
        'hostKeySha256: required for sftp:// (ssh-keygen -lf <host key> prints it, e.g. SHA256:…)',
        'password: set password or privateKeyPem for the SFTP login',
      ]);
    });
  });
});
