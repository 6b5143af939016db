import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, literal, scim, SYNC_RUN_URN, type Json } from '../api.js';
import { Dialog, ErrorNote, formatDate } from '../components.js';

/** Sources: status, last run, next run; run now (full, incremental, dry run); run history with the diff. */
export function Sources(props: { accountId: string }) {
  const api = useMemo(() => scim(props.accountId), [props.accountId]);
  const [sources, setSources] = useState<Json[] | undefined>();
  const [runs, setRuns] = useState<Record<string, Json[]>>({});
  const [error, setError] = useState<string | undefined>();
  const [detail, setDetail] = useState<Json | undefined>();
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let stop = false;
    (async () => {
      try {
        const list = ((await api.get('/Sources')).Resources ?? []) as Json[];
        const byId: Record<string, Json[]> = {};
        for (const s of list) byId[String(s.id)] = ((await api.get('/SyncRuns', { filter: `sourceId eq ${literal(String(s.id))}`, count: 10 })).Resources ?? []) as Json[];
        if (stop) return;
        setSources(list);
        setRuns(byId);
      } catch (e) {
        setError(e instanceof ApiError ? e.detail : String(e));
      }
    })();
    return () => {
      stop = true;
    };
  }, [api, tick]);

  // While a run is going, look again every two seconds.
  const running = Object.values(runs).some((list) => list.some((r) => r.status === 'running'));
  useEffect(() => {
    if (!running) return;
    const timer = setTimeout(() => setTick((t) => t + 1), 2000);
    return () => clearTimeout(timer);
  }, [running, tick]);

  const start = async (sourceId: string, mode: 'full' | 'incremental', dryRun: boolean) => {
    setError(undefined);
    try {
      await api.post('/SyncRuns', { schemas: [SYNC_RUN_URN], sourceId, mode, dryRun });
      setTick((t) => t + 1);
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
    }
  };
  const open = async (id: string) => {
    try {
      setDetail(await api.get(`/SyncRuns/${id}`));
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
    }
  };

  return (
    <section>
      <h1>Sources</h1>
      <ErrorNote error={error} />
      {sources && sources.length === 0 && <p>No directory feeds this account. Sources are added through the API or `switchboard sources add`.</p>}
      {sources?.map((s) => {
        const history = runs[String(s.id)] ?? [];
        const last = history[0];
        const status = (s.status ?? {}) as Json;
        return (
          <article key={s.id} class="source" aria-label={String(s.name)}>
            <h2>{String(s.name)}</h2>
            <dl class="facts">
              <dt>Kind</dt>
              <dd>{String(s.kind)}</dd>
              <dt>Status</dt>
              <dd>{String(status.state ?? 'idle')}{status.lastError ? `: ${String(status.lastError)}` : ''}</dd>
              <dt>Last run</dt>
              <dd>{last ? `${String(last.status)}, ${formatDate(String(last.finishedAt ?? last.startedAt))}, ${countsText(last.counts)}` : 'never'}</dd>
              <dt>Next run</dt>
              <dd>{status.nextRunAt ? `${formatDate(String(status.nextRunAt))} (schedule ${String(s.schedule)}${status.backoffUntil ? ', backing off after failures' : ''})` : 'not scheduled'}</dd>
            </dl>
            <div class="buttons">
              <button type="button" onClick={() => start(String(s.id), 'full', false)}>
                Run full sync now
              </button>
              <button type="button" onClick={() => start(String(s.id), 'incremental', false)}>
                Run incremental sync now
              </button>
              <button type="button" onClick={() => start(String(s.id), 'full', true)}>
                Dry run
              </button>
            </div>
            <h3>History</h3>
            <table>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Status</th>
                  <th scope="col">Counts</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {history.map((r) => (
                  <tr key={r.id}>
                    <td>{formatDate(String(r.startedAt))}</td>
                    <td>
                      {String(r.mode)}
                      {r.dryRun ? ' (dry run)' : ''}
                    </td>
                    <td>{String(r.status)}</td>
                    <td>{countsText(r.counts)}</td>
                    <td>
                      <button type="button" class="link" onClick={() => open(String(r.id))}>
                        Changes
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </article>
        );
      })}
      {detail && (
        <Dialog title="Run changes" onClose={() => setDetail(undefined)} wide>
          {detail.error && <p class="error">{String(detail.error)}</p>}
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Outcome</th>
                <th scope="col">Attribute</th>
                <th scope="col">Old</th>
                <th scope="col">New</th>
              </tr>
            </thead>
            <tbody>
              {((detail.results ?? []) as Json[]).flatMap((r) => {
                const changes = Object.entries((r.changes ?? {}) as Record<string, Json>);
                const who = String(r.userId ?? r.anchor);
                if (changes.length === 0) return [<tr key={who}><td>{who}</td><td>{String(r.outcome)}</td><td colSpan={3}>{String(r.error ?? '')}</td></tr>];
                return changes.map(([attr, c]) => (
                  <tr key={`${who}-${attr}`}>
                    <td>{who}</td>
                    <td>{String(r.outcome)}</td>
                    <td>{attr}</td>
                    <td>{show(c.old)}</td>
                    <td>{show(c.new)}</td>
                  </tr>
                ));
              })}
            </tbody>
          </table>
          <div class="buttons">
            <button type="button" class="primary" onClick={() => setDetail(undefined)}>
              Close
            </button>
          </div>
        </Dialog>
      )}
    </section>
  );
}

const show = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const countsText = (counts: Json | undefined): string =>
  Object.entries(counts ?? {})
    .filter(([, n]) => Number(n) > 0)
    .map(([k, n]) => `${String(n)} ${k}`)
    .join(', ') || 'no changes';
