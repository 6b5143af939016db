import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, scim, type Json, type Session } from '../api.js';
import { ErrorNote } from '../components.js';

const TOGGLES: [string, string][] = [
  ['sso', 'SSO (passwords are managed by the identity provider)'],
  ['miTeamMeetings', 'MiTeam Meetings'],
  ['miCollab', 'MiCollab'],
  ['mivb', 'MiVoice Business'],
  ['oigInCluster', 'OIG in the MiVoice Business cluster'],
  ['contactCenter', 'Contact centre (Mitel CX)'],
];

/** Account settings: the seed's integrations and the subscriptions with their assigned and available seats. */
export function Settings(props: { session: Session; accountId: string; account: Json | undefined; onSaved: (account: Json) => void }) {
  const api = useMemo(() => scim(props.accountId), [props.accountId]);
  const [settings, setSettings] = useState<Json | undefined>();
  const [pool, setPool] = useState('');
  const [seats, setSeats] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  useEffect(() => {
    if (!props.account) return;
    const s = JSON.parse(JSON.stringify(props.account.settings ?? {})) as Json;
    setSettings(s);
    setPool(((s.twilio?.smsPool ?? []) as string[]).join('\n'));
    setSeats(Object.fromEntries(((props.account.subscriptions ?? []) as Json[]).map((x) => [String(x.product), String(x.seats)])));
  }, [props.account]);
  if (!props.account || !settings) return <p>Loading…</p>;
  // Subscriptions are assigned by the partner or the operator, never by the account itself (the API refuses it too).
  const maySetSeats = props.session.accountId !== props.accountId && props.account.type === 'customer';
  const subs = (props.account.subscriptions ?? []) as Json[];
  const flip = (key: string) => (e: Event) => setSettings({ ...settings, [key]: (e.currentTarget as HTMLInputElement).checked });
  const twilio = (key: string) => (e: Event) => setSettings({ ...settings, twilio: { ...(settings.twilio ?? {}), [key]: (e.currentTarget as HTMLInputElement).checked } });

  const save = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setNotice(undefined);
    try {
      const next = { ...settings, twilio: { ...(settings.twilio ?? {}), smsPool: pool.split(/[\s,]+/).filter(Boolean) } };
      const ops: Json[] = [{ op: 'replace', path: 'settings', value: next }];
      if (maySetSeats) ops.push({ op: 'replace', path: 'subscriptions', value: subs.map((s) => ({ product: s.product, seats: Number(seats[String(s.product)] ?? s.seats) })) });
      const saved = await api.patch(`/Accounts/${props.accountId}`, ops);
      props.onSaved(saved);
      setNotice('Saved.');
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
    }
  };
  return (
    <section>
      <h1>Account settings</h1>
      <form onSubmit={save}>
        <fieldset>
          <legend>Integrations and Apps</legend>
          {TOGGLES.map(([key, label]) => (
            <label class="toggle" key={key}>
              <input type="checkbox" role="switch" checked={settings[key] === true} onChange={flip(key)} /> {label}
            </label>
          ))}
          <label class="toggle">
            <input type="checkbox" role="switch" checked={settings.twilio?.enabled === true} onChange={twilio('enabled')} /> Twilio
          </label>
          <label class="toggle">
            <input type="checkbox" role="switch" checked={settings.twilio?.userNumbers === true} onChange={twilio('userNumbers')} /> User Numbers
          </label>
          <label>
            Twilio SMS numbers (one per line, E.164)
            <textarea rows={4} value={pool} onInput={(e) => setPool((e.currentTarget as HTMLTextAreaElement).value)} />
          </label>
        </fieldset>
        <fieldset>
          <legend>Subscriptions</legend>
          {subs.length === 0 && <p>No subscriptions.</p>}
          {subs.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col">Seats</th>
                  <th scope="col">Assigned</th>
                  <th scope="col">Available</th>
                </tr>
              </thead>
              <tbody>
                {subs.map((s) => (
                  <tr key={String(s.product)}>
                    <td>{String(s.product)}</td>
                    <td>
                      {maySetSeats ? (
                        <input
                          type="number"
                          min={0}
                          aria-label={`Seats of ${String(s.product)}`}
                          value={seats[String(s.product)] ?? ''}
                          onInput={(e) => setSeats({ ...seats, [String(s.product)]: (e.currentTarget as HTMLInputElement).value })}
                        />
                      ) : (
                        String(s.seats)
                      )}
                    </td>
                    <td>{String(s.assigned ?? '')}</td>
                    <td>{String(s.available ?? '')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </fieldset>
        <ErrorNote error={error} />
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <button type="submit" class="primary">
          Save
        </button>
      </form>
    </section>
  );
}
