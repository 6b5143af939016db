import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// tools/test-prerequisites.sh is npm's pretest and .ci/run's first step. Only the branches that install nothing are
// run here: the install branch is what .ci/run exercises on a fresh machine.
const script = fs.readFileSync(path.resolve('tools/test-prerequisites.sh'), 'utf8');

function run(env: Record<string, string>, asUser?: number) {
  const prefix = asUser === undefined ? [] : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups'];
  // The script goes through stdin, so an unprivileged user needs no read access to the checkout.
  const [command, ...args] = [...prefix, '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), '/bin/bash', '-s'];
  const started = Date.now();
  const result = spawnSync(command, args, { input: script, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, ms: Date.now() - started };
}

describe('tools/test-prerequisites.sh (npm pretest)', () => {
  it('when every package the tests need is installed, then it exits 0 without output and without apt-get', () => {
    const { code, stdout, stderr, ms } = run({ PATH: process.env.PATH ?? '/usr/bin:/bin' });
    expect({ code, stdout, stderr }).to.deep.equal({ code: 0, stdout: '', stderr: '' });
    expect(ms).to.be.below(5000);
  });

  it('when packages are missing and the user is not root, then it stops at once naming the exact apt-get install command', () => {
    // A PATH with a stand-in apt-get and none of the tools: as if nothing were installed on a Debian machine.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-prereq-'));
    fs.chmodSync(bin, 0o755);
    fs.symlinkSync('/bin/false', path.join(bin, 'apt-get'));
    const { code, stderr } = run({ PATH: bin }, 65534);
    expect(code).to.equal(1);
    expect(stderr).to.contain('The tests need Debian packages that are not installed: ldap-utils samba ');
    expect(stderr).to.match(/\n {2}sudo apt-get update && sudo apt-get install -y --no-install-recommends ldap-utils samba samba-ad-provision .*socat openssh-client openssl/);
  });

  it('when packages are missing on a machine without apt-get, then it says so and still names the Debian command', () => {
    const { code, stderr } = run({ PATH: '/nonexistent' });
    expect(code).to.equal(1);
    expect(stderr).to.contain('This machine has no apt-get; on Debian or Ubuntu the command is:');
    expect(stderr).to.contain('sudo apt-get install -y --no-install-recommends ldap-utils');
  });
});
