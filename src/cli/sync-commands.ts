/**
 * CLI commands for directory sync: `sources add|list|check|update|enable|disable|delete` and `sync run|history`, over
 * the Sources and SyncRuns SCIM resources of a running server.
 *
 * `sync run --wait` polls GET /SyncRuns/{id} and shows a progress line on stderr: rewritten in place when
 * stderr is a terminal, else one line per change (status or counts). It ends with the counts on stdout, and
 * exit code 1 when the run failed or stopped at the deletion threshold (the reason goes to stderr).
 */
import type { Command } from 'commander';
import type { ApiClient } from './api-client.js';
import { counted, progressWriter, sleep, type CliIo, type CommandContext, type Row } from './cli-io.js';
import { patchOperations, readJsonObject, type SetOptions, setOptions } from './set-values.js';

const SOURCE_URN = 'urn:switchboard:scim:schemas:core:2.0:Source';
const SYNC_RUN_URN = 'urn:switchboard:scim:schemas:core:2.0:SyncRun';
const COUNT_NAMES = ['created', 'updated', 'unchanged', 'deactivated', 'deleted', 'quarantined'] as const;

/** The CLI's io as the sync commands use it (the progress line's terminal and raw writer are part of every CliIo). */
export type SyncCliIo = CliIo;

interface SyncRun {
  id: string;
  sourceId: string;
  mode: string;
  status: string;
  counts?: Partial<Record<(typeof COUNT_NAMES)[number] | 'skipped', number>>;
  /** The source had not changed (an unchanged export): nothing was read. */
  idle?: boolean;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  dryRun?: boolean;
  trigger?: string;
  [key: string]: unknown;
}

function countsText(counts: SyncRun['counts'] = {}): string {
  // Skipped objects (MiCloud contacts) only exist for some sources: named when there are any.
  return [...COUNT_NAMES.map((name) => `${counts[name] ?? 0} ${name}`), ...(counts.skipped ? [`${counts.skipped} skipped`] : [])].join(', ');
}

function processed(counts: SyncRun['counts'] = {}): number {
  return (counts.created ?? 0) + (counts.updated ?? 0) + (counts.unchanged ?? 0) + (counts.quarantined ?? 0);
}

/** The status as people read it: a dry run says that nothing was written, an idle run that nothing was read. */
function statusText(run: SyncRun): string {
  const notes = [...(run.dryRun ? ['dry run: nothing was changed'] : []), ...(run.idle === true ? ['idle: nothing changed since the last run'] : [])];
  return notes.length > 0 ? `${run.status} (${notes.join('; ')})` : run.status;
}

export function progressLine(run: SyncRun, elapsedMs?: number): string {
  const elapsed = elapsedMs === undefined ? '' : `, ${(elapsedMs / 1000).toFixed(1)} s`;
  return `sync run ${run.id}: ${statusText(run)}, ${counted(processed(run.counts), 'record')} (${countsText(run.counts)})${elapsed}`;
}

/** The flat row of a run for tables. */
function runRow(run: SyncRun): Row {
  return {
    id: run.id,
    sourceId: run.sourceId,
    mode: run.mode,
    trigger: run.trigger,
    status: statusText(run),
    startedAt: run.startedAt,
    durationMs: run.durationMs,
    ...Object.fromEntries(COUNT_NAMES.map((name) => [name, run.counts?.[name] ?? 0])),
    error: run.error,
  };
}

interface SourceStatus {
  state?: string;
  lastRun?: { status: string; startedAt?: string; finishedAt?: string; dryRun?: boolean; idle?: boolean; counts?: SyncRun['counts'] };
  nextRunAt?: string;
  consecutiveFailures?: number;
  backoffUntil?: string;
  lastError?: string;
}

/** A time as the table shows it: to the minute, in UTC. */
const when = (iso: string | undefined) => (iso ? `${iso.slice(0, 16).replace('T', ' ')}Z` : undefined);

/** The flat row of a source, with its health: the last run (status, when, counts), the next run, failures, back-off. */
function sourceRow(source: Row): Row {
  const status = (source.status ?? {}) as SourceStatus;
  const last = status.lastRun;
  return {
    id: source.id, name: source.name, kind: source.kind, enabled: source.enabled, state: status.state,
    lastRun: last ? `${statusText({ ...last, id: '', sourceId: '', mode: '' })} ${when(last.finishedAt ?? last.startedAt)}` : 'never',
    lastCounts: last?.counts ? countsText(last.counts) : undefined,
    nextRunAt: status.nextRunAt ? when(status.nextRunAt) : source.schedule ? (source.enabled ? undefined : 'disabled') : 'manual',
    failures: status.consecutiveFailures,
    backoffUntil: when(status.backoffUntil),
    lastError: status.lastError,
  };
}
const SOURCE_COLUMNS = ['id', 'name', 'kind', 'enabled', 'state', 'lastRun', 'lastCounts', 'nextRunAt', 'failures', 'backoffUntil', 'lastError'];

/** Why a finished run is a failure for the exit code, or undefined. */
export function failureOf(run: SyncRun): string | undefined {
  if (run.status === 'failed') return `sync run ${run.id} failed: ${run.error ?? 'no reason recorded'}`;
  if (run.status === 'stopped_deletion_threshold') {
    // The server's reason gives the numbers, that nothing was deactivated, and how to confirm: printed as it is.
    return `sync run ${run.id} stopped: ${run.error ?? 'deletion threshold exceeded; nothing was deactivated'}`;
  }
  return undefined;
}

export function registerSyncCommands(program: Command, { client, print, io, pollMs }: CommandContext): void {
  const fail = (message: string) => {
    io.err(message);
    process.exitCode = 1;
  };

  const sources = program.command('sources').description('directories and phone systems that feed users (LDAP / Active Directory, Microsoft Entra ID, MiVoice Business, MiCloud Connect)');
  sources
    .command('add')
    .description('create a source from a connector configuration file (JSON)')
    .requiredOption('--name <name>', 'source name, unique in the account')
    .requiredOption('--kind <kind>', 'connector kind: ldap, entra, mivb (MiVoice Business users export) or micloud (MiCloud Connect users export)')
    .requiredOption('--config-file <path>', 'JSON file with the connector configuration (ldap: url, bindDn, bindPassword, baseDn; entra: tenantId, clientId, clientSecret; mivb/micloud: location, hostKeySha256, password or privateKeyPem; …)')
    .option('--schedule <cron>', 'cron expression for scheduled incremental runs, e.g. "*/15 * * * *"')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; kind: string; configFile: string; schedule?: string; account?: string; json?: boolean }) => {
      const config = await readJsonObject(opts.configFile);
      const api = client();
      const created = await api.request<Row>('POST', `${api.base(opts.account)}/Sources`, {
        schemas: [SOURCE_URN],
        name: opts.name,
        kind: opts.kind,
        config,
        ...(opts.schedule ? { schedule: opts.schedule } : {}),
      });
      print(!!opts.json, opts.json ? created : { ...created, ...sourceRow(created) }, ['id', 'name', 'kind', 'schedule', 'enabled']);
    });
  sources
    .command('list')
    .description('list the sources with their health: last run (status, when, counts), next run, consecutive failures, back-off')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: { account?: string; json?: boolean }) => {
      const api = client();
      const list = await api.request<{ Resources: Row[] }>('GET', `${api.base(opts.account)}/Sources?count=1000`);
      print(!!opts.json, opts.json ? list : list.Resources.map(sourceRow), SOURCE_COLUMNS);
    });
  sources
    .command('update')
    .description('change a source: its name, schedule, configuration (merged into the stored one) or any attribute with --set')
    .argument('<sourceId>', 'source id')
    .option('--name <name>', 'new name')
    .option('--schedule <cron>', 'new cron schedule ("" for manual runs only)')
    .option('--config-file <path>', 'JSON file whose settings replace those named in it (secrets included); the others are kept')
    .option(...setOptions.set)
    .option(...setOptions.setJson)
    .option(...setOptions.remove)
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (sourceId: string, opts: SetOptions & { name?: string; schedule?: string; configFile?: string; account?: string; json?: boolean }) => {
      const operations = [
        ...(opts.name !== undefined ? [{ op: 'replace', path: 'name', value: opts.name }] : []),
        ...(opts.schedule !== undefined ? [opts.schedule === '' ? { op: 'remove', path: 'schedule' } : { op: 'replace', path: 'schedule', value: opts.schedule }] : []),
        ...(opts.configFile !== undefined ? [{ op: 'replace', path: 'config', value: await readJsonObject(opts.configFile) }] : []),
        ...patchOperations(opts),
      ];
      if (operations.length === 0) throw new Error('nothing to change: give --name, --schedule, --config-file, --set, --set-json or --remove');
      await patchSource(sourceId, opts, operations);
    });
  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    sources
      .command(name)
      .description(enabled ? 'let the scheduler run the source again' : 'stop scheduled runs of the source (manual runs still work)')
      .argument('<sourceId>', 'source id')
      .option('--account <accountId>', 'account (default: your own)')
      .option('--json', 'print JSON')
      .action(async (sourceId: string, opts: { account?: string; json?: boolean }) => patchSource(sourceId, opts, [{ op: 'replace', path: 'enabled', value: enabled }]));
  }
  sources
    .command('delete')
    .description('delete a source; the users it fed stay, no longer owned by it')
    .argument('<sourceId>', 'source id')
    .option('--account <accountId>', 'account (default: your own)')
    .action(async (sourceId: string, opts: { account?: string }) => {
      const api = client();
      await api.request('DELETE', `${api.base(opts.account)}/Sources/${encodeURIComponent(sourceId)}`);
      io.out(`deleted source ${sourceId}`);
    });

  async function patchSource(sourceId: string, opts: { account?: string; json?: boolean }, operations: object[]): Promise<void> {
    const api = client();
    const updated = await api.request<Row>('PATCH', `${api.base(opts.account)}/Sources/${encodeURIComponent(sourceId)}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: operations,
    });
    print(!!opts.json, opts.json ? updated : { ...updated, ...sourceRow(updated) }, ['id', 'name', 'kind', 'schedule', 'enabled', 'nextRunAt']);
  }
  sources
    .command('check')
    .description('connect and authenticate to the source, read nothing')
    .argument('<sourceId>', 'source id')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (sourceId: string, opts: { account?: string; json?: boolean }) => {
      const api = client();
      const result = await api.request<SyncRun>('POST', `${api.base(opts.account)}/SyncRuns`, { schemas: [SYNC_RUN_URN], sourceId, mode: 'check' });
      if (opts.json) print(true, result);
      if (result.status === 'succeeded') {
        if (!opts.json) io.out(`ok: source ${sourceId} connected and authenticated`);
      } else fail(`check of source ${sourceId} failed: ${result.error ?? 'no reason given'}`);
    });

  const sync = program.command('sync').description('run sources and see their history');
  sync
    .command('run')
    .description('start a run of a source (incremental unless --full)')
    .requiredOption('--source <sourceId>', 'source id')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--full', 'read everything (deactivates users the directory no longer has)')
    .option('--dry-run', 'compute the changes, write nothing')
    .option('--allow-deletes', 'deactivate even past the deletion threshold')
    .option('--wait', 'wait for the end, showing progress, and exit 1 if the run failed or stopped')
    .option('--json', 'print JSON')
    .action(async (opts: { source: string; account?: string; full?: boolean; dryRun?: boolean; allowDeletes?: boolean; wait?: boolean; json?: boolean }) => {
      const api = client();
      const base = api.base(opts.account);
      const started = await api.request<SyncRun>('POST', `${base}/SyncRuns`, {
        schemas: [SYNC_RUN_URN],
        sourceId: opts.source,
        mode: opts.full ? 'full' : 'incremental',
        dryRun: !!opts.dryRun,
        allowDeletes: !!opts.allowDeletes,
      });
      if (!opts.wait) {
        print(!!opts.json, opts.json ? started : runRow(started), ['id', 'sourceId', 'mode', 'status', 'startedAt']);
        return;
      }
      const run = await waitFor(api, base, started, io, pollMs);
      if (opts.json) print(true, run);
      else {
        const { results: _results, ...rest } = run;
        print(false, runRow(rest as SyncRun), ['id', 'status', 'durationMs', ...COUNT_NAMES]);
        if (run.status === 'completed_with_errors') io.err(`${counted(run.counts?.quarantined ?? 0, 'record')} quarantined; see switchboard sync history or GET /SyncRuns/${run.id}`);
      }
      const failure = failureOf(run);
      if (failure) fail(failure);
    });
  sync
    .command('history')
    .description('runs, newest first')
    .option('--source <sourceId>', 'only this source')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--limit <n>', 'most runs shown', '20')
    .option('--json', 'print JSON')
    .action(async (opts: { source?: string; account?: string; limit: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit must be a positive whole number, got "${opts.limit}"`);
      const api = client();
      const query = new URLSearchParams({ count: String(limit), ...(opts.source ? { filter: `sourceId eq "${opts.source}"` } : {}) });
      const list = await api.request<{ Resources: SyncRun[] }>('GET', `${api.base(opts.account)}/SyncRuns?${query}`);
      print(!!opts.json, opts.json ? list : list.Resources.map(runRow), ['id', 'sourceId', 'mode', 'trigger', 'status', 'startedAt', 'durationMs', ...COUNT_NAMES, 'error']);
    });
}

/** Polls a run until it is no longer running, showing progress on stderr (with the time taken on a terminal). */
async function waitFor(api: ApiClient, base: string, started: SyncRun, io: CliIo, pollMs: number): Promise<SyncRun> {
  const progress = progressWriter(io);
  const begin = Date.now();
  let run = started;
  for (;;) {
    progress.show(progressLine(run, progress.tty ? Date.now() - begin : undefined), `${run.status} ${countsText(run.counts)}`);
    if (run.status !== 'running') break;
    await sleep(pollMs);
    run = await api.request<SyncRun>('GET', `${base}/SyncRuns/${encodeURIComponent(started.id)}`);
  }
  progress.done();
  return run;
}
