/**
 * `actions run|get|list`, over the Actions resource of a running server. `run --wait` follows an action that runs in
 * the background (more than 500 users) with a progress line on stderr, then prints the summary and every user the
 * action did not simply do, with the reason; it exits 1 when the action or any user failed.
 */
import type { Command } from 'commander';
import { actionTypeValues } from '../domain/action-schema.js';
import type { ApiClient } from './api-client.js';
import { counted, progressWriter, sleep, type CliIo, type CommandContext, type Row } from './cli-io.js';

const ACTION_URN = 'urn:switchboard:scim:schemas:core:2.0:Action';
const SUMMARY_NAMES = ['succeeded', 'skipped', 'deferred', 'failed'] as const;

interface Action {
  id: string;
  type: string;
  status: string;
  error?: string;
  summary: Record<'targeted' | 'processed' | (typeof SUMMARY_NAMES)[number], number>;
  results?: { userId: string; outcome: string; reason?: string; value?: string }[];
  [key: string]: unknown;
}

export function actionProgressLine(action: Action): string {
  const { summary } = action;
  return `action ${action.id} (${action.type}): ${action.status}, ${summary.processed}/${counted(summary.targeted, 'user')} (${SUMMARY_NAMES.map((n) => `${summary[n]} ${n}`).join(', ')})`;
}

const summaryRow = (action: Action): Row => ({ id: action.id, type: action.type, status: action.status, ...action.summary });
const SUMMARY_COLUMNS = ['id', 'type', 'status', 'targeted', ...SUMMARY_NAMES];

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerActionsCommands(program: Command, { client, print, io, pollMs }: CommandContext): void {
  const actions = program.command('actions').description('admin actions over many users: welcome emails, password resets, licences, SMS numbers, deletes');
  actions
    .command('run')
    .description('run an action over the users given by --ids, --filter or --all')
    .argument('<type>', actionTypeValues.join(', '))
    .option('--ids <ids...>', 'these user ids (space- or comma-separated)')
    .option('--filter <filter>', 'the users matching a SCIM filter, e.g. \'title eq "Engineer"\'')
    .option('--all', 'every user of the account')
    .option('--param <name=value>', 'a parameter of the type, e.g. product="MiTeam Meetings" (repeatable)', collect)
    .option('--wait', 'follow an action running in the background to its end')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print the Action as JSON')
    .action(async (type: string, opts: { ids?: string[]; filter?: string; all?: boolean; param?: string[]; wait?: boolean; account?: string; json?: boolean }) => {
      const given = [opts.ids && 'ids', opts.filter !== undefined && 'filter', opts.all && 'all'].filter(Boolean);
      if (given.length !== 1) throw new Error('say which users with exactly one of --ids, --filter or --all');
      const targets = opts.ids ? { ids: opts.ids.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean) } : opts.filter !== undefined ? { filter: opts.filter } : { all: true };
      const params = Object.fromEntries((opts.param ?? []).map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`--param takes NAME=VALUE, got "${pair}"`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }));
      const api = client();
      const base = api.base(opts.account);
      let action = await api.request<Action>('POST', `${base}/Actions`, { schemas: [ACTION_URN], type, targets, ...(opts.param ? { params } : {}) });
      if (action.status === 'running' && !opts.wait) {
        print(!!opts.json, opts.json ? action : summaryRow(action), SUMMARY_COLUMNS);
        if (!opts.json) io.err(`running in the background: follow it with switchboard actions get ${action.id}, or run with --wait`);
        return;
      }
      action = await follow(api, base, action, io, pollMs);
      report(action, !!opts.json);
    });
  actions
    .command('get')
    .description('show an action: its summary and the users it did not simply do, with the reason')
    .argument('<actionId>', 'action id')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (actionId: string, opts: { account?: string; json?: boolean }) => {
      const api = client();
      report(await api.request<Action>('GET', `${api.base(opts.account)}/Actions/${encodeURIComponent(actionId)}`), !!opts.json);
    });
  actions
    .command('list')
    .description('list actions, newest first (without their per-user results)')
    .option('--filter <filter>', 'a SCIM filter, e.g. \'type eq "resetPassword"\' or \'summary.failed gt 0\'')
    .option('--count <n>', 'most shown', '20')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: { filter?: string; count: string; account?: string; json?: boolean }) => {
      const api = client();
      const query = new URLSearchParams({ count: opts.count, ...(opts.filter ? { filter: opts.filter } : {}) });
      const list = await api.request<{ Resources: Action[] }>('GET', `${api.base(opts.account)}/Actions?${query}`);
      print(!!opts.json, opts.json ? list : list.Resources.map((a) => ({ ...summaryRow(a), created: a.created })), [...SUMMARY_COLUMNS, 'created']);
    });

  /** The summary, then each user not simply done with the reason; exit code 1 when the action or a user failed. */
  function report(action: Action, json: boolean): void {
    if (json) print(true, action);
    else {
      print(false, summaryRow(action), SUMMARY_COLUMNS);
      const notDone = (action.results ?? []).filter((r) => r.outcome !== 'done');
      if (notDone.length > 0) {
        io.out('');
        print(false, notDone, ['userId', 'outcome', 'reason']);
      }
    }
    if (action.status === 'failed') {
      io.err(`action ${action.id} failed: ${action.error ?? 'no reason recorded'}`);
      process.exitCode = 1;
    } else if (action.summary.failed > 0) {
      io.err(`${counted(action.summary.failed, 'user')} failed: see the reasons above`);
      process.exitCode = 1;
    }
  }
}

/** Polls an action until it is no longer running, showing progress on stderr. */
async function follow(api: ApiClient, base: string, started: Action, io: CliIo, pollMs: number): Promise<Action> {
  const progress = progressWriter(io);
  let action = started;
  for (;;) {
    progress.show(actionProgressLine(action));
    if (action.status !== 'running') break;
    await sleep(pollMs);
    action = await api.request<Action>('GET', `${base}/Actions/${encodeURIComponent(started.id)}`);
  }
  progress.done();
  return action;
}
