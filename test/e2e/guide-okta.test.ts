import { expect } from 'chai';
import type { RunningServer } from '../../src/server.js';
import { guideBlocks, printedLines, runBash, startGuideServer, withoutIds } from '../support/guide.js';
import { testDatabaseKind } from '../support/test-database.js';

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
    const started = await startGuideServer('okta', BOOT);
    ({ server, dir } = started);
    after(async () => {
      await started.close();
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
