/**
 * CLI commands for directory sync: `sources add|list|check` and `sync run|history`, over the Sources and
 * SyncRuns SCIM resources of a running server.
 *
 * `sync run --wait` polls GET /SyncRuns/{id} and shows a progress line on stderr: rewritten in place when
 * stderr is a terminal, else one line per change (status or counts). It ends with the counts on stdout, and
 * exit code 1 when the run failed or stopped at the deletion threshold (the reason goes to stderr).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ApiClient } from './api-client.js';
import type { CliIo } from './cli-io.js';

type Row = Record<string, unknown>;

const SOURCE_URN = 'urn:switchboard:scim:schemas:core:2.0:Source';
const SYNC_RUN_URN = 'urn:switchboard:scim:schemas:core:2.0:SyncRun';
const COUNT_NAMES = ['created', 'updated', 'unchanged', 'deactivated', 'deleted', 'quarantined'] as const;

/**
 * Optional extras of the CLI's io for the progress line: whether stderr is a terminal, and a raw writer (no
 * newline added). Without them, the process's stderr decides.
 */
export interface SyncCliIo extends CliIo {
  stderrIsTTY?: boolean;
  writeErr?: (text: string) => void;
}

export interface SyncCommandsOptions {
  /** Delay between polls of a run with `--wait` (default 1000 ms, or SWITCHBOARD_POLL_MS). */
  pollMs?: number;
}

type Print = (json: boolean, value: unknown, columns?: string[]) => void;

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function countsText(counts: SyncRun['counts'] = {}): string {
  // Skipped objects (MiCloud contacts) only exist for some sources: named when there are any.
  return [...COUNT_NAMES.map((name) => `${counts[name] ?? 0} ${name}`), ...(counts.skipped ? [`${counts.skipped} skipped`] : [])].join(', ');
}

function processed(counts: SyncRun['counts'] = {}): number {
  return (counts.created ?? 0) + (counts.updated ?? 0) + (counts.unchanged ?? 0) + (counts.quarantined ?? 0);
}

export function progressLine(run: SyncRun, elapsedMs?: number): string {
  const elapsed = elapsedMs === undefined ? '' : `, ${(elapsedMs / 1000).toFixed(1)} s`;
  const idle = run.idle === true ? ' (idle: nothing changed since the last run)' : '';
  return `sync run ${run.id}: ${run.status}${idle}, ${processed(run.counts)} records (${countsText(run.counts)})${elapsed}`;
}

/** The flat row of a run for tables. */
function runRow(run: SyncRun): Row {
  return {
    id: run.id,
    sourceId: run.sourceId,
    mode: run.mode + (run.dryRun ? ' (dry run)' : ''),
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt,
    durationMs: run.durationMs,
    ...Object.fromEntries(COUNT_NAMES.map((name) => [name, run.counts?.[name] ?? 0])),
    error: run.error,
  };
}

function sourceRow(source: Row): Row {
  const status = (source.status ?? {}) as Row;
  return { id: source.id, name: source.name, kind: source.kind, schedule: source.schedule, enabled: source.enabled, state: status.state, lastError: status.lastError };
}

/** Why a finished run is a failure for the exit code, or undefined. */
export function failureOf(run: SyncRun): string | undefined {
  if (run.status === 'failed') return `sync run ${run.id} failed: ${run.error ?? 'no reason recorded'}`;
  if (run.status === 'stopped_deletion_threshold') {
    // The server's reason carries the numbers and already says nothing was deactivated.
    const reason = run.error ?? 'too many deactivations; nothing was deactivated';
    return `sync run ${run.id} stopped at the deletion threshold: ${reason}. Check the directory, then rerun with --allow-deletes to confirm.`;
  }
  return undefined;
}

export function registerSyncCommands(program: Command, client: () => ApiClient, print: Print, io: SyncCliIo, options: SyncCommandsOptions = {}): void {
  const pollMs = options.pollMs ?? (Number(process.env.SWITCHBOARD_POLL_MS) || 1000);
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
      let config: unknown;
      try {
        config = JSON.parse(await readFile(opts.configFile, 'utf8'));
      } catch (error) {
        throw new Error(`Cannot read the configuration file ${opts.configFile}: ${(error as Error).message}`);
      }
      if (!config || typeof config !== 'object' || Array.isArray(config)) throw new Error(`${opts.configFile} must hold a JSON object`);
      const api = client();
      const created = await api.request<Row>('POST', `${api.base(opts.account)}/Sources`, {
        schemas: [SOURCE_URN],
        name: opts.name,
        kind: opts.kind,
        config,
        ...(opts.schedule ? { schedule: opts.schedule } : {}),
      });
      print(!!opts.json, opts.json ? created : sourceRow(created), ['id', 'name', 'kind', 'schedule', 'enabled']);
    });
  sources
    .command('list')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: { account?: string; json?: boolean }) => {
      const api = client();
      const list = await api.request<{ Resources: Row[] }>('GET', `${api.base(opts.account)}/Sources?count=1000`);
      print(!!opts.json, opts.json ? list : list.Resources.map(sourceRow), ['id', 'name', 'kind', 'schedule', 'enabled', 'state', 'lastError']);
    });
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
        if (run.status === 'completed_with_errors') io.err(`${run.counts?.quarantined ?? 0} record(s) quarantined; see switchboard sync history or GET /SyncRuns/${run.id}`);
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

/** Polls a run until it is no longer running, showing progress on stderr. */
async function waitFor(api: ApiClient, base: string, started: SyncRun, io: SyncCliIo, pollMs: number): Promise<SyncRun> {
  const tty = io.stderrIsTTY ?? (io.writeErr ? false : Boolean(process.stderr.isTTY));
  const write = io.writeErr ?? ((text: string) => void process.stderr.write(text));
  const begin = Date.now();
  let last = '';
  let width = 0;
  let run = started;
  for (;;) {
    const key = `${run.status} ${countsText(run.counts)}`;
    if (tty) {
      const line = progressLine(run, Date.now() - begin);
      write(`\r${line.padEnd(width)}`);
      width = line.length;
    } else if (key !== last) {
      io.err(progressLine(run));
    }
    last = key;
    if (run.status !== 'running') break;
    await sleep(pollMs);
    run = await api.request<SyncRun>('GET', `${base}/SyncRuns/${encodeURIComponent(started.id)}`);
  }
  if (tty) write('\n');
  return run;
}
