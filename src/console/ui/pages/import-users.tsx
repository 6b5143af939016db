import { useMemo, useState } from 'preact/hooks';
import { ApiError, scim, type Json } from '../api.js';
import { ErrorNote } from '../components.js';

const statusWords: Record<string, string> = { succeeded: 'Import complete', completed_with_errors: 'Import complete, with failed rows', failed: 'Import failed' };

/** Import Users: upload a CSV (POST /Imports), watch its progress, read and download the report. */
export function ImportUsers(props: { accountId: string }) {
  const api = useMemo(() => scim(props.accountId), [props.accountId]);
  const [file, setFile] = useState<File | undefined>();
  const [dryRun, setDryRun] = useState(false);
  const [welcome, setWelcome] = useState(false);
  const [job, setJob] = useState<Json | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const start = async (event: Event) => {
    event.preventDefault();
    if (!file) return setError('Choose a CSV file to import.');
    setBusy(true);
    setError(undefined);
    setJob(undefined);
    try {
      const query = new URLSearchParams({ dryRun: String(dryRun), sendWelcomeEmail: String(welcome) });
      let current = await api.upload(`/Imports?${query}`, file, 'text/csv');
      setJob(current);
      while (current.status === 'running') {
        await new Promise((r) => setTimeout(r, 1000));
        current = await api.get(`/Imports/${current.id}`);
        setJob(current);
      }
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
    } finally {
      setBusy(false);
    }
  };
  const download = async (path: string, name: string) => {
    try {
      const blob = await api.download(path);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
    }
  };
  const counts = (job?.counts ?? {}) as Json;
  const processed = ['created', 'updated', 'unchanged', 'failed'].reduce((n, k) => n + Number(counts[k] ?? 0), 0);
  // The rows worth reading: the failed ones, and any other with a note (a welcome email not sent).
  const rows = ((job?.results ?? []) as Json[]).filter((r) => r.outcome === 'failed' || r.reason);
  return (
    <section>
      <h1>Import Users</h1>
      <p>
        Add users in bulk from a CSV file.{' '}
        <button type="button" class="link" onClick={() => download('/Imports/template', 'users-import-template.csv')}>
          Download the template
        </button>
      </p>
      <form onSubmit={start}>
        <label>
          CSV file
          <input type="file" accept=".csv,text/csv" onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0])} />
        </label>
        <label class="toggle">
          <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun((e.currentTarget as HTMLInputElement).checked)} /> Dry run (check the file, change nothing)
        </label>
        <label class="toggle">
          <input type="checkbox" checked={welcome} onChange={(e) => setWelcome((e.currentTarget as HTMLInputElement).checked)} /> Send CloudLink welcome emails to new users
        </label>
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Import
        </button>
      </form>
      {job && (
        <section aria-live="polite" class="import-status">
          <h2>{job.status === 'running' ? 'Importing…' : (statusWords[String(job.status)] ?? String(job.status))}{job.dryRun ? ' (dry run: nothing was written)' : ''}</h2>
          <label>
            Progress
            <progress max={Number(counts.rows) || 1} value={processed}>
              {processed} of {Number(counts.rows ?? 0)}
            </progress>
          </label>
          {job.error && <p class="error">{String(job.error)}</p>}
          <dl class="summary">
            <dt>Rows</dt>
            <dd>{Number(counts.rows ?? 0)}</dd>
            <dt>Created</dt>
            <dd>{Number(counts.created ?? 0)}</dd>
            <dt>Updated</dt>
            <dd>{Number(counts.updated ?? 0)}</dd>
            <dt>Unchanged</dt>
            <dd>{Number(counts.unchanged ?? 0)}</dd>
            <dt>Failed</dt>
            <dd>{Number(counts.failed ?? 0)}</dd>
          </dl>
          {rows.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Email</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={String(r.line)}>
                    <td>{String(r.line)}</td>
                    <td>{String(r.email ?? '')}</td>
                    <td>{String(r.outcome)}</td>
                    <td>{String(r.reason ?? '')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {job.id && job.status !== 'running' && (
            <button type="button" onClick={() => download(`/Imports/${job.id}/report`, 'import-report.csv')}>
              Download the report
            </button>
          )}
        </section>
      )}
    </section>
  );
}
