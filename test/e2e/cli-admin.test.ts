import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Command } from 'commander';
import { micloudPortalExport } from '../../connectors/testing/pbx-fixtures.js';
import { buildProgram } from '../../src/cli/program.js';
import { startCliServer, type CliServer } from '../support/cli-server.js';
import { testDatabaseKind } from '../support/test-database.js';

const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';
const json = (run: { out: string[] }) => JSON.parse(run.out.join('\n'));
/** What a command printed on stdout, line by line (a table is printed at once). */
const lines = (run: { out: string[] }) => run.out.join('\n').split('\n');

describe(`CLI: users, groups, actions, accounts and sources against a running server (${testDatabaseKind})`, () => {
  let sb: CliServer;
  let accountId: string;
  let adaId: string;
  before(async () => {
    sb = await startCliServer();
    const account = await sb.cli(['accounts', 'create', '--name', 'Admin Co', '--type', 'customer', '--json']);
    expect(account.exitCode, account.err.join('\n')).to.equal(0);
    accountId = json(account).id;
  });
  after(async () => sb?.stop());
  /** The CLI, in the test's account for the commands that take --account. */
  const cli = (args: string[], io?: Parameters<CliServer['cli']>[1]) =>
    sb.cli([...args, ...(['accounts', 'subscriptions', 'completion'].includes(args[0]!) ? [] : ['--account', accountId])], io);

  it('when asked its version or for help, then it prints the package version and every command and subcommand has a one-line description', async () => {
    // commander prints the version on the process's stdout and exits: run it as a process.
    const printed = execFileSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--version'], { encoding: 'utf8' }).trim();
    expect(printed).to.equal((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
    const missing: string[] = [];
    const walk = (command: Command, path: string) => {
      for (const sub of command.commands) {
        const name = `${path} ${sub.name()}`.trim();
        if (!sub.description() || sub.description().includes('\n')) missing.push(name);
        walk(sub, name);
      }
    };
    walk(buildProgram(), '');
    expect(missing).to.deep.equal([]);
  });

  it('when users are created, listed, shown, changed and deleted, then each command works, with --filter, --attributes and --json', async () => {
    const created = await cli(['users', 'create', '--email', 'ada@example.com', '--given-name', 'Ada', '--family-name', 'Lovelace', '--set', 'title=Countess', '--set', `${SB}:accountAdmin=true`, '--json']);
    expect(created.exitCode, created.err.join('\n')).to.equal(0);
    adaId = json(created).id;
    expect(json(created)).to.deep.include({ userName: 'ada@example.com', title: 'Countess' });
    expect(json(created)[SB]).to.include({ accountAdmin: true });
    const alan = await cli(['users', 'create', '--email', 'alan@example.com', '--given-name', 'Alan', '--family-name', 'Turing']);
    expect(alan.exitCode, alan.err.join('\n')).to.equal(0);
    expect(alan.out.join('\n')).to.match(/^attribute\s+value$/m).and.match(/^name\.givenName\s+Alan$/m).and.match(/^emails\s+alan@example\.com$/m);

    const table = await cli(['users', 'list']);
    expect(table.exitCode).to.equal(0);
    expect(lines(table)[0]).to.match(/^id\s+userName\s+name\.givenName\s+name\.familyName\s+active$/);
    expect(table.out.join('\n')).to.match(new RegExp(`^${adaId}\\s+ada@example\\.com\\s+Ada\\s+Lovelace\\s+true$`, 'm'));
    expect(lines(table)).to.have.length(3);

    const filtered = await cli(['users', 'list', '--filter', 'title eq "Countess"', '--attributes', 'userName,title']);
    expect(lines(filtered)).to.have.length(2);
    expect(lines(filtered)[0]).to.match(/^id\s+userName\s+title$/);
    expect(lines(filtered)[1]).to.equal(`${adaId}  ada@example.com  Countess`);
    const listed = await cli(['users', 'list', '--filter', 'userName sw "a"', '--attributes', 'userName', '--json']);
    expect(json(listed)).to.include({ totalResults: 2 });
    expect(json(listed).Resources[0]).to.have.keys('id', 'userName', 'schemas');
    const page = await cli(['users', 'list', '--count', '1']);
    expect(lines(page)).to.have.length(2);
    expect(page.err).to.deep.equal(['1 of 2 shown; see more with --start-index or --count']);

    const shown = await cli(['users', 'get', adaId]);
    expect(shown.out.join('\n')).to.match(/^title\s+Countess$/m).and.match(new RegExp(`^${SB}:accountAdmin\\s+true$`, 'm'));
    const updated = await cli(['users', 'update', adaId, '--set', 'title=Engineer', '--set-json', 'phoneNumbers=[{"value":"+32470123456","type":"mobile"}]', '--json']);
    expect(updated.exitCode, updated.err.join('\n')).to.equal(0);
    expect(json(updated)).to.deep.include({ title: 'Engineer' });
    const removed = await cli(['users', 'update', adaId, '--remove', 'title', '--json']);
    expect(json(removed)).to.not.have.property('title');

    const nothing = await cli(['users', 'update', adaId]);
    expect(nothing.exitCode).to.equal(1);
    expect(nothing.err).to.deep.equal(['switchboard: nothing to change: give --set, --set-json or --remove']);
    const refused = await cli(['users', 'update', adaId, '--set', 'active=maybe']);
    expect(refused.exitCode).to.equal(1);
    expect(refused.err[0]).to.match(/^switchboard: HTTP 400: .*active/);

    const alanId = json(await cli(['users', 'list', '--filter', 'userName eq "alan@example.com"', '--json'])).Resources[0].id as string;
    const deleted = await cli(['users', 'delete', alanId]);
    expect(lines(deleted)).to.deep.equal([`deleted user ${alanId}`]);
    const gone = await cli(['users', 'get', alanId]);
    expect(gone.exitCode).to.equal(1);
    expect(gone.err[0]).to.match(/^switchboard: HTTP 404/);
  });

  it('when a group has members, then groups list, get and members show them', async () => {
    const response = await fetch(`${sb.url}/accounts/${accountId}/scim/v2/Groups`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${sb.token}`, 'Content-Type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Sales', externalId: 'sales-1', members: [{ value: adaId }] }),
    });
    expect(response.status).to.equal(201);
    const groupId = ((await response.json()) as { id: string }).id;
    const list = await cli(['groups', 'list']);
    expect(lines(list)).to.have.length(2);
    expect(lines(list)[0]).to.match(/^id\s+displayName\s+externalId$/);
    expect(lines(list)[1]).to.match(new RegExp(`^${groupId}\\s+Sales\\s+sales-1$`));
    const filtered = await cli(['groups', 'list', '--filter', 'displayName eq "Nobody"']);
    expect(lines(filtered)).to.deep.equal(['(none)']);
    const shown = await cli(['groups', 'get', groupId]);
    expect(shown.out.join('\n')).to.match(/^displayName\s+Sales$/m).and.not.match(/^members/m);
    const members = await cli(['groups', 'members', groupId]);
    expect(lines(members)[0]).to.match(/^value\s+display\s+type$/);
    expect(lines(members)[1]).to.match(new RegExp(`^${adaId}\\s`));
    expect(json(await cli(['groups', 'members', groupId, '--json'])).map((m: { value: string }) => m.value)).to.deep.equal([adaId]);
  });

  it('when an account is shown and changed, and its subscriptions set, then get, update and subscriptions set work', async () => {
    const updated = await cli(['accounts', 'update', accountId, '--name', 'Admin Company', '--set', 'settings.sso=true', '--set', 'settings.miTeamMeetings=true', '--set-json', 'settings.twilio={"enabled":true,"userNumbers":true,"smsPool":["+14155550100"]}', '--json']);
    expect(updated.exitCode, updated.err.join('\n')).to.equal(0);
    expect(json(updated)).to.deep.include({ name: 'Admin Company' });
    expect(json(updated).settings).to.deep.include({ sso: true, twilio: { enabled: true, userNumbers: true, smsPool: ['+14155550100'] } });
    const subscriptions = await cli(['subscriptions', 'set', '--account', accountId, 'MiTeam Meetings=25', 'MiCollab=10']);
    expect(subscriptions.exitCode, subscriptions.err.join('\n')).to.equal(0);
    expect(lines(subscriptions)[0]).to.match(/^product\s+seats\s+assigned\s+available$/);
    expect(subscriptions.out.join('\n')).to.match(/^MiTeam Meetings\s+25\s+0\s+25$/m).and.match(/^MiCollab\s+10\s+0\s+10$/m);
    expect(lines(subscriptions)).to.have.length(3);
    const bad = await cli(['subscriptions', 'set', '--account', accountId, 'MiCollab=lots']);
    expect(bad.err).to.deep.equal(['switchboard: each subscription is PRODUCT=SEATS (a whole number), got "MiCollab=lots"']);
    const shown = await cli(['accounts', 'get', accountId]);
    expect(shown.out.join('\n')).to.match(/^name\s+Admin Company$/m).and.match(/^settings\.sso\s+true$/m).and.match(/^settings\.twilio\.smsPool\s+\+14155550100$/m);
    expect(shown.out.join('\n')).to.match(/^MiTeam Meetings\s+25\s+0\s+25$/m);
  });

  it('when an action runs over --ids with one unknown user, then it prints the summary and the reason per user, and exits 1', async () => {
    const unknown = randomUUID();
    const run = await cli(['actions', 'run', 'sendWelcomeEmail', '--ids', `${adaId},${unknown}`]);
    expect(run.exitCode).to.equal(1);
    expect(lines(run)[0]).to.match(/^id\s+type\s+status\s+targeted\s+succeeded\s+skipped\s+deferred\s+failed$/);
    expect(lines(run)[1]).to.match(/\ssendWelcomeEmail\s+completed\s+2\s+1\s+0\s+0\s+1$/);
    expect(lines(run).slice(3)).to.deep.equal(['userId                                outcome  reason', `${unknown}  failed   not found`]);
    expect(run.err.at(-1)).to.equal('1 user failed: see the reasons above');
    const missingTargets = await cli(['actions', 'run', 'sendWelcomeEmail']);
    expect(missingTargets.exitCode).to.equal(1);
    expect(missingTargets.err).to.deep.equal(['switchboard: say which users with exactly one of --ids, --filter or --all']);
    const badType = await cli(['actions', 'run', 'sendFlowers', '--all']);
    expect(badType.exitCode).to.equal(1);
    expect(badType.err[0]).to.match(/HTTP 400: type must be one of sendWelcomeEmail, resetPassword/);
    const byFilter = await cli(['actions', 'run', 'assignLicense', '--filter', `userName eq "ada@example.com"`, '--param', 'product=MiTeam Meetings', '--json']);
    expect(byFilter.exitCode, byFilter.err.join('\n')).to.equal(0);
    expect(json(byFilter)).to.deep.include({ type: 'assignLicense', params: { product: 'MiTeam Meetings' } });
    expect((await cli(['accounts', 'get', accountId])).out.join('\n')).to.match(/^MiTeam Meetings\s+25\s+1\s+24$/m);
    const list = await cli(['actions', 'list']);
    expect(lines(list)[0]).to.match(/^id\s+type\s+status\s+targeted\s+succeeded\s+skipped\s+deferred\s+failed\s+created$/);
    expect(lines(list)).to.have.length(3);
  });

  it('when an action over more than 500 users runs with --wait on a terminal, then the progress line is rewritten in place and the summary follows', async () => {
    const file = join(sb.dir, 'many.csv');
    await writeFile(file, `First Name,Last Name,Email\n${Array.from({ length: 520 }, (_, i) => `U${i},Many,many${i}@example.com`).join('\n')}\n`);
    const imported = await cli(['users', 'import', file]);
    expect(imported.exitCode, imported.err.join('\n')).to.equal(0);
    const raw: string[] = [];
    const run = await cli(['actions', 'run', 'sendWelcomeEmail', '--filter', 'userName sw "many"', '--wait'], { stderrIsTTY: true, writeErr: (t) => raw.push(t) });
    expect(run.exitCode, run.err.join('\n')).to.equal(0);
    expect(raw.length).to.be.greaterThan(1);
    expect(raw.slice(0, -1).every((t) => t.startsWith('\r'))).to.equal(true);
    expect(raw[0]).to.match(/^\raction \S+ \(sendWelcomeEmail\): running, \d+\/520 users/);
    expect(raw.at(-2)).to.match(/: completed, 520\/520 users \(520 succeeded, 0 skipped, 0 deferred, 0 failed\)\s*$/);
    expect(raw.at(-1)).to.equal('\n');
    expect(lines(run)[1]).to.match(/\scompleted\s+520\s+520\s+0\s+0\s+0$/);
    expect(lines(run)).to.have.length(2);
  });

  it('when an enum value is not one of its canonical values, then the API\'s 400 lists the allowed ones and the CLI shows it', async () => {
    const role = await cli(['tokens', 'create', '--role', 'admin']);
    expect(role.exitCode).to.equal(1);
    expect(role.err).to.deep.equal(['switchboard: HTTP 400: role must be one of "operator", "partner-admin", "account-admin", "provisioning", "user", not "admin"']);
    const type = await cli(['accounts', 'create', '--name', 'Reseller', '--type', 'reseller']);
    expect(type.err).to.deep.equal(['switchboard: HTTP 400: type must be one of "operator", "partner", "customer", not "reseller"']);
    const email = await cli(['users', 'create', '--email', 'grace@example.com', '--given-name', 'Grace', '--family-name', 'Hopper', '--set-json', 'emails=[{"value":"grace@example.com","type":"office"}]']);
    expect(email.err).to.deep.equal(['switchboard: HTTP 400: emails.type must be one of "work", "home", "other", not "office"']);
  });

  it('when a source runs, fails and is changed, then sources list shows its health, and update, enable, disable and delete work', async () => {
    const csv = join(sb.dir, 'micloud.csv');
    await writeFile(csv, micloudPortalExport(6, 0));
    const config = join(sb.dir, 'micloud.json');
    await writeFile(config, JSON.stringify({ location: `file://${csv}`, defaultCountry: 'US' }));
    const added = await cli(['sources', 'add', '--name', 'MiCloud', '--kind', 'micloud', '--config-file', config, '--schedule', '0 2 * * *', '--json']);
    expect(added.exitCode, added.err.join('\n')).to.equal(0);
    const sourceId = json(added).id as string;

    const dry = await cli(['sync', 'run', '--source', sourceId, '--full', '--dry-run', '--wait']);
    expect(dry.exitCode, dry.err.join('\n')).to.equal(0);
    expect(dry.err.at(-1)).to.match(/: succeeded \(dry run: nothing was changed\), 6 records \(6 created,/);
    expect(lines(dry)[1]).to.match(/\ssucceeded \(dry run: nothing was changed\)\s+\d+\s+6\s+0\s+0\s+0\s+0\s+0$/);
    expect(json(await cli(['users', 'list', '--filter', 'userName sw "mc"', '--json'])).totalResults).to.equal(0);
    const run = await cli(['sync', 'run', '--source', sourceId, '--full', '--wait']);
    expect(run.exitCode, run.err.join('\n')).to.equal(0);

    const threshold = await cli(['sources', 'update', sourceId, '--set-json', 'deleteThreshold={"count":1,"percent":100}', '--json']);
    expect(threshold.exitCode, threshold.err.join('\n')).to.equal(0);
    expect(json(threshold).deleteThreshold).to.deep.equal({ count: 1, percent: 100 });
    await writeFile(csv, micloudPortalExport(4, 0));
    const stopped = await cli(['sync', 'run', '--source', sourceId, '--full', '--wait']);
    expect(stopped.exitCode).to.equal(1);
    expect(stopped.err.at(-1)).to.match(/stopped: deletion threshold exceeded: 2 of 6 linked users would be deactivated, more than the limit of 1 \(the smaller of 1 user and 100 %\); nothing was deactivated\. Check the directory, then run again with allowDeletes \(switchboard sync run --allow-deletes\) to confirm$/);
    expect(stopped.err.join('\n').match(/allow-?deletes/gi)).to.have.length(2); // the advice once: the API's name and the CLI's

    const healthy = json(await cli(['sources', 'list', '--json'])).Resources[0].status;
    expect(healthy).to.deep.include({ state: 'waiting_for_confirmation', consecutiveFailures: 0 });
    expect(healthy.lastRun).to.deep.include({ status: 'stopped_deletion_threshold', mode: 'full', dryRun: false, trigger: 'manual' });
    expect(healthy.lastRun.counts).to.include({ unchanged: 4 });
    expect(new Date(healthy.nextRunAt).getUTCHours() === 2 || new Date(healthy.nextRunAt).getHours() === 2).to.equal(true);
    expect(healthy).to.not.have.property('backoffUntil');

    await writeFile(config, JSON.stringify({ location: `file://${join(sb.dir, 'missing.csv')}` }));
    const moved = await cli(['sources', 'update', sourceId, '--config-file', config, '--name', 'MiCloud export']);
    expect(moved.exitCode, moved.err.join('\n')).to.equal(0);
    const failed = await cli(['sync', 'run', '--source', sourceId, '--wait']);
    expect(failed.exitCode).to.equal(1);
    const listed = await cli(['sources', 'list']);
    expect(lines(listed)[0]).to.match(/^id\s+name\s+kind\s+enabled\s+state\s+lastRun\s+lastCounts\s+nextRunAt\s+failures\s+backoffUntil\s+lastError$/);
    expect(lines(listed)[1]).to.match(new RegExp(`^${sourceId}\\s+MiCloud export\\s+micloud\\s+true\\s+failed\\s+failed \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\s+0 created, .*\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\s+1\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\s+.*missing\\.csv`));
    const failing = json(await cli(['sources', 'list', '--json'])).Resources[0].status;
    expect(failing).to.deep.include({ state: 'failed', consecutiveFailures: 1 });
    expect(new Date(failing.backoffUntil).getTime()).to.be.above(Date.now());
    expect(failing.lastRun).to.deep.include({ status: 'failed' });

    const disabled = await cli(['sources', 'disable', sourceId, '--json']);
    expect(json(disabled)).to.deep.include({ enabled: false });
    expect(json(disabled).status).to.not.have.property('nextRunAt');
    expect(lines(await cli(['sources', 'list']))[1]).to.match(/\sdisabled\s/);
    const enabled = await cli(['sources', 'enable', sourceId]);
    expect(lines(enabled)[1]).to.match(new RegExp(`^${sourceId}\\s+MiCloud export\\s+micloud\\s+0 2 \\* \\* \\*\\s+true\\s+\\d{4}-`));
    const manual = await cli(['sources', 'update', sourceId, '--schedule', '', '--json']);
    expect(json(manual)).to.not.have.property('schedule');

    const deleted = await cli(['sources', 'delete', sourceId]);
    expect(lines(deleted)).to.deep.equal([`deleted source ${sourceId}`]);
    expect(json(await cli(['sources', 'list', '--json'])).Resources).to.deep.equal([]);
    expect(json(await cli(['users', 'list', '--filter', 'userName sw "mc"', '--json'])).totalResults).to.equal(6);
  });

  it('when completion scripts are printed, then bash completes commands, subcommands and options from the program tree, and zsh names them all', async () => {
    const script = (await cli(['completion', 'bash'])).out.join('\n');
    const complete = (...words: string[]) =>
      execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _switchboard; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).trim().split('\n');
    expect(complete('switchboard', 'ac')).to.deep.equal(['accounts', 'actions']);
    expect(complete('switchboard', 'sources', '')).to.include.members(['add', 'list', 'check', 'update', 'enable', 'disable', 'delete', '--help']);
    expect(complete('switchboard', '--url', 'http://x', 'users', 'l')).to.deep.equal(['list']);
    expect(complete('switchboard', 'sync', 'run', '--source', 'abc', '--w')).to.deep.equal(['--wait']);
    expect(complete('switchboard', 'completion', '')).to.deep.equal(['--help']);
    const zsh = (await cli(['completion', 'zsh'])).out.join('\n');
    expect(zsh.split('\n')[0]).to.equal('#compdef switchboard');
    for (const command of buildProgram().commands) expect(zsh).to.contain(`'${command.name()}:${command.description().replace(/'/g, `'\\''`)}`);
    const fish = await cli(['completion', 'fish']);
    expect(fish.exitCode).to.equal(1);
    expect(fish.err).to.deep.equal(['switchboard: no completion for "fish": bash or zsh']);
  });
});
