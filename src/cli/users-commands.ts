/**
 * `switchboard users import FILE` and `switchboard users export`, over POST /Imports and GET /Users (text/csv) of
 * a running server. The import streams the file up, shows a progress bar on a terminal (cli-progress: rows, rows/s,
 * ETA; plain lines otherwise) while a large import runs in the background, prints the counts, writes the report
 * beside the file (FILE.report.csv) and exits 1 when a row failed. The export streams the CSV to stdout.
 */
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { ApiClient } from './api-client.js';
import { counted, sleep, type CliIo, type CommandContext } from './cli-io.js';


const COUNT_NAMES = ['rows', 'created', 'updated', 'unchanged', 'failed'] as const;

interface ImportResource {
  id: string;
  status: string;
  dryRun: boolean;
  counts: Record<(typeof COUNT_NAMES)[number], number>;
  error?: string;
  [key: string]: unknown;
}

/** The io of the users commands: a raw stdout writer for the export, and where the progress bar goes. */
export interface UsersCliIo extends CliIo {
  /** Writes text to stdout as is (the export's CSV); default process.stdout. */
  writeOut?: (text: string) => Promise<void> | void;
  /** The terminal stream the bar draws on; default process.stderr. */
  progressStream?: NodeJS.WritableStream;
}

const processedOf = (imp: ImportResource) => imp.counts.created + imp.counts.updated + imp.counts.unchanged + imp.counts.failed;
const countsText = (imp: ImportResource) => COUNT_NAMES.slice(1).map((name) => `${imp.counts[name]} ${name}`).join(', ');

export function importProgressLine(imp: ImportResource): string {
  return `import ${imp.id}: ${imp.status}, ${processedOf(imp)}/${imp.counts.rows} rows (${countsText(imp)})`;
}

/** Registers `users import|export`; returns the `users` command for the others (list, get, create, …). */
export function registerUsersCommands(program: Command, context: CommandContext): Command {
  const { client, print, pollMs } = context;
  const io = context.io as UsersCliIo;
  const users = program.command('users').description('list, show, create, change and delete users; import them from CSV and export them');

  users
    .command('import')
    .description('import users from a CSV file (GET /Imports/template gives the columns); the report is written to FILE.report.csv')
    .argument('<file>', 'CSV file: header row, then one user per row')
    .option('--dry-run', 'check every row and count what would change, write nothing')
    .option('--send-welcome-email', 'send the users created the welcome email')
    .option('--mode <mode>', 'upsert (update users matched by email, create the others) or create (new users only)', 'upsert')
    .option('--ignore-unknown-columns', 'skip columns the import does not know instead of refusing the file')
    .option('--charset <charset>', 'the file\'s charset', 'utf-8')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print the Import resource as JSON')
    .action(async (file: string, opts: { dryRun?: boolean; sendWelcomeEmail?: boolean; mode: string; ignoreUnknownColumns?: boolean; charset: string; account?: string; json?: boolean }) => {
      const api = client();
      const base = api.base(opts.account);
      const size = (await stat(file)).size;
      const query = new URLSearchParams({
        ...(opts.dryRun ? { dryRun: 'true' } : {}), ...(opts.sendWelcomeEmail ? { sendWelcomeEmail: 'true' } : {}), mode: opts.mode,
        ...(opts.ignoreUnknownColumns ? { ignoreUnknownColumns: 'true' } : {}),
      });
      const response = await api.raw('POST', `${base}/Imports?${query}`, {
        headers: { 'Content-Type': `text/csv; charset=${opts.charset}`, 'Content-Length': String(size), Accept: 'application/scim+json' },
        body: Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>,
      });
      let imp = (await response.json()) as ImportResource;
      imp = await follow(api, base, imp, io, pollMs);
      const report = await api.raw('GET', `${base}/Imports/${encodeURIComponent(imp.id)}/report`);
      const reportFile = `${file}.report.csv`;
      await writeFile(reportFile, Buffer.from(await report.arrayBuffer()));
      if (opts.json) print(true, imp);
      else print(false, { id: imp.id, status: imp.status + (imp.dryRun ? ' (dry run)' : ''), ...imp.counts }, ['id', 'status', ...COUNT_NAMES]);
      io.err(`report: ${reportFile}`);
      if (imp.status === 'failed') {
        io.err(`import ${imp.id} failed: ${imp.error ?? 'no reason recorded'}`);
        process.exitCode = 1;
      } else if (imp.counts.failed > 0) {
        io.err(`${counted(imp.counts.failed, 'row')} failed; fix them in ${reportFile} and import it again`);
        process.exitCode = 1;
      }
    });

  users
    .command('export')
    .description('write the Users list as CSV to stdout (the import\'s columns, plus Registered, Source, Modified On and Modified By)')
    .option('--filter <filter>', 'a SCIM filter, e.g. \'title eq "Engineer"\'')
    .option('--sort-by <attribute>', 'sort by this attribute, e.g. userName')
    .option('--account <accountId>', 'account (default: your own)')
    .action(async (opts: { filter?: string; sortBy?: string; account?: string }) => {
      const api = client();
      const query = new URLSearchParams({ ...(opts.filter ? { filter: opts.filter } : {}), ...(opts.sortBy ? { sortBy: opts.sortBy } : {}) });
      const response = await api.raw('GET', `${api.base(opts.account)}/Users${query.size > 0 ? `?${query}` : ''}`, { headers: { Accept: 'text/csv' } });
      const write = io.writeOut ?? ((text: string) => new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve()))));
      const decoder = new TextDecoder();
      for await (const chunk of Readable.fromWeb(response.body! as unknown as WebReadableStream<Uint8Array>)) {
        await write(decoder.decode(chunk as Uint8Array, { stream: true }));
      }
      const rest = decoder.decode();
      if (rest !== '') await write(rest);
    });
  return users;
}

/**
 * Follows a running import to its end (polling GET /Imports/{id} without its results): a bar on a terminal, one
 * line per change otherwise. An import answered done (201) is shown once.
 */
async function follow(api: ApiClient, base: string, started: ImportResource, io: UsersCliIo, pollMs: number): Promise<ImportResource> {
  const tty = io.stderrIsTTY ?? Boolean(process.stderr.isTTY);
  let imp = started;
  if (!tty) {
    let last = '';
    for (;;) {
      const line = importProgressLine(imp);
      if (line !== last) io.err(line);
      last = line;
      if (imp.status !== 'running') return imp;
      await sleep(pollMs);
      imp = await api.request<ImportResource>('GET', `${base}/Imports/${encodeURIComponent(started.id)}?excludedAttributes=results`);
    }
  }
  const bar = new SingleBar({
    stream: io.progressStream ?? process.stderr,
    format: 'import |{bar}| {value}/{total} rows | {speed} rows/s | ETA {eta_formatted}',
    etaBuffer: 20,
    hideCursor: true,
    // cli-progress draws only on a TTY unless told otherwise; `tty` already said this is one.
    noTTYOutput: true,
    notTTYSchedule: 250,
  });
  const begin = Date.now();
  const speed = (value: number) => Math.round(value / Math.max((Date.now() - begin) / 1000, 0.001));
  bar.start(imp.counts.rows, processedOf(imp), { speed: 0 });
  try {
    while (imp.status === 'running') {
      await sleep(pollMs);
      imp = await api.request<ImportResource>('GET', `${base}/Imports/${encodeURIComponent(started.id)}?excludedAttributes=results`);
      bar.update(processedOf(imp), { speed: speed(processedOf(imp)) });
    }
    bar.update(processedOf(imp), { speed: speed(processedOf(imp)) });
  } finally {
    bar.stop();
  }
  return imp;
}
