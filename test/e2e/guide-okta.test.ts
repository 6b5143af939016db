import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { guideBlocks, printedLines, runBash, scratchDir, withoutIds } from '../support/guide.js';
import { createTestDatabase, testDatabaseKind } from '../support/test-database.js';

const BOOT = 'sb_guide_okta_bootstrap_token_0123456789abcdef';

// docs/okta.md followed literally: the account and token of step 1, then the requests Okta makes (the connector
// test's page, the lookup by userName, POST, the profile push by PUT, deactivation by a PATCH without a path,
// Push Groups) against a real server.
describe(`docs/okta.md, followed literally (${testDatabaseKind})`, function () {
  // Upper bounds for a loaded 2-core machine (servers, npx and slapd start in them), not timings.
  this.timeout(600_000);
  let server: RunningServer;
  let dir: string;
  before(async () => {
    const db = await createTestDatabase();
    dir = scratchDir('okta');
    server = await startServer(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_BOOTSTRAP_TOKEN: BOOT, SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', DATA_DIR: path.join(dir, 'data') }),
      { db, logger: silentLogger },
      () => {},
    );
    after(async () => {
      await server.stop();
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  it("when the guide's steps and Okta's requests are run as written, then each answers as the guide prints", async () => {
    const result = await runBash(guideBlocks('docs/okta.md'), { cwd: dir, env: { SWITCHBOARD_URL: server.url, SWITCHBOARD_TOKEN: BOOT } });
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^SCIM connector base URL: http:\/\/127\.0\.0\.1:\d+\/accounts\/[0-9a-f-]{36}\/scim\/v2$/);
    expect(lines[1]).to.match(/^Bearer token: {12}sb_/);
    expect(withoutIds(lines.slice(2))).to.deep.equal(printedLines('docs/okta.md'));
  });
});
