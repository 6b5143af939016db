import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { guideBlocks, runBash, scratchDir, startServerProcess, type ServerProcess } from '../support/guide.js';

// The README's quick start, followed literally: `npm start`'s server (here `switchboard serve`, what npm start runs
// after the build) in a fresh directory, then the README's tested blocks in a second shell in that directory.
describe('README quick start, followed literally', function () {
  // Upper bounds for a loaded 2-core machine, not timings: a fresh embedded database is migrated at start, and
  // each npx call starts node.
  this.timeout(600_000);
  let dir: string;
  let server: ServerProcess;
  before(async () => {
    dir = scratchDir('quick-start');
    server = await startServerProcess({ cwd: dir, env: { SWITCHBOARD_BOOTSTRAP_TOKEN: '', SCHEDULER_ENABLED: 'false' } });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when the blocks are run in order, then an account, a provisioning token and a SCIM user are created and the filtered lists find the user', async () => {
    expect(server.output()).to.match(/Operator token \(shown once, also written to .*data\/bootstrap-token\): sb_/);
    expect(fs.existsSync(path.join(dir, 'data', 'bootstrap-token'))).to.equal(true);
    const blocks = guideBlocks('README.md');
    expect(blocks.length).to.be.at.least(3);
    const result = await runBash(blocks, { cwd: dir, env: { PORT: String(server.port), SWITCHBOARD_URL: undefined, SWITCHBOARD_TOKEN: undefined } });
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0);
    expect(result.stdout, result.stdout).to.match(/tenant URL: http:\/\/localhost:\d+\/scim\/v2 {3}token: sb_/);
    expect(result.stdout, result.stdout).to.contain('"userName": "ada@contoso.com"').and.contain('"source": "scim"');
    // The identity provider's filtered list: one user; the operator's: the projected attributes only.
    expect(result.stdout, result.stdout).to.match(/^1\n"ada@contoso.com"$/m);
    expect(result.stdout, result.stdout).to.contain('"userName":"ada@contoso.com","name":{"givenName":"Ada","familyName":"Lovelace"}}');
    // The CLI's table: the account with its one user.
    expect(result.stdout, result.stdout).to.match(/Contoso\s+customer\s+[0-9a-f-]{36}\s+1$/m);
  });
});
