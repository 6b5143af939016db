import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { startServer } from '../../src/server.js';
import { createTestDatabase, testDatabaseKind } from '../support/test-database.js';

describe(`the listening server's log line (${testDatabaseKind})`, () => {
  it('when the server binds every interface (HOST 0.0.0.0, PORT 0), then its log line names 0.0.0.0 and the port the kernel gave, not 127.0.0.1', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const db = await createTestDatabase();
    const config = loadConfig({ PORT: '0', HOST: '0.0.0.0', PUBLIC_URL: 'http://sb.test', SWITCHBOARD_BOOTSTRAP_TOKEN: 'sb_listen_log_bootstrap_token_0123456789ab', SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-listen-')) });
    const running = await startServer(config, { db, logger: createLogger({ destination }) }, () => {});
    try {
      const bound = running.server.address();
      if (!bound || typeof bound === 'string') throw new Error('no TCP address');
      expect(bound.address).to.equal('0.0.0.0');
      const line = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('switchboard listening'));
      expect(line?.msg).to.equal(`switchboard listening on 0.0.0.0:${bound.port}`);
      expect(line?.address).to.equal(`0.0.0.0:${bound.port}`);
      // Clients on this machine still reach it through the loopback address.
      expect(running.url).to.equal(`http://127.0.0.1:${bound.port}`);
      expect((await fetch(`${running.url}/healthz`)).status).to.equal(200);
    } finally {
      await running.stop();
      await db.close();
    }
  });
});
