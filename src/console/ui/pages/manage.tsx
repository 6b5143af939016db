import { useEffect, useMemo, useState } from 'preact/hooks';
import { ACTION_URN, ApiError, literal, scim, type Json } from '../api.js';
import { Dialog, ErrorNote } from '../components.js';
import { nameOf } from './users.js';

const MTM = 'MiTeam Meetings';

interface Operation {
  label: string;
  type: string;
  params?: Json;
  /** Asked before running; deleting also wants the word typed. */
  question: string;
  typed?: boolean;
}

const words = (n: number | undefined) => (n === undefined ? 'all users of the account' : n === 1 ? '1 selected user' : `${n} selected users`);

/** The Manage (N) and Manage all panels: the seed's operations, each confirmed, each followed by its summary. */
export function ManagePanel(props: { accountId: string; account: Json | undefined; ids: string[] | undefined; onClose: (changed: boolean) => void }) {
  const api = useMemo(() => scim(props.accountId), [props.accountId]);
  const all = props.ids === undefined;
  const count = props.ids?.length;
  const settings = (props.account?.settings ?? {}) as Json;
  const subscription = ((props.account?.subscriptions ?? []) as Json[]).find((s) => String(s.product).toLowerCase() === MTM.toLowerCase());
  const licences = props.account?.type === 'customer' && settings.miTeamMeetings && !settings.miCollab && subscription;
  const sms = settings.twilio?.enabled && settings.twilio?.userNumbers;
  const freeNumbers = ((settings.twilio?.smsPool ?? []) as string[]).length;
  const [pending, setPending] = useState<Operation | undefined>();
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState<Json | undefined>();
  const [typed, setTyped] = useState('');

  const ops: { group: string; items: Operation[]; note?: string }[] = [
    {
      group: 'CloudLink',
      items: [
        { label: all ? 'Send CloudLink welcome emails to all' : 'Send CloudLink welcome emails', type: 'sendWelcomeEmail', question: `Send the CloudLink welcome email to ${words(count)}?` },
        { label: all ? 'Reset passwords for all' : 'Reset CloudLink passwords', type: 'resetPassword', question: `Send a password reset email to ${words(count)}? Only registered users receive one.` },
      ],
    },
    {
      group: 'MiVoice Business',
      items: [{ label: 'Send MiVoice Business deployment emails', type: 'sendMivbDeploymentEmails', question: `Send the two MiVoice Business deployment emails to ${all ? 'every user with the MiVoice Business service' : words(count)}?` }],
    },
  ];
  if (licences) {
    ops.push({
      group: 'MiTeam Meetings licences',
      note: `${Number(subscription.available ?? 0)} of ${Number(subscription.seats ?? 0)} licences available`,
      items: [
        { label: all ? 'Assign all' : 'Assign', type: 'assignLicense', params: { product: MTM }, question: `Assign a MiTeam Meetings licence to ${words(count)}?` },
        { label: all ? 'Unassign all' : 'Unassign', type: 'unassignLicense', params: { product: MTM }, question: `Unassign the MiTeam Meetings licence of ${words(count)}?` },
      ],
    });
  }
  if (sms && !all) {
    const enough = count !== undefined && count <= freeNumbers;
    ops.push({
      group: 'Bulk User Settings: Twilio SMS Numbers',
      note: enough ? undefined : `More users are selected than there are SMS numbers in the pool (${freeNumbers}): Assign all is not available.`,
      items: [
        ...(enough ? [{ label: 'Assign all', type: 'assignSmsNumbers', question: `Overwrite the SMS numbers of ${words(count)} with numbers of the pool?` }] : []),
        { label: 'Unassign all', type: 'unassignSmsNumbers', question: `Unassign the SMS numbers of ${words(count)}?` },
      ],
    });
  }
  if (!all) ops.push({ group: 'Delete', items: [{ label: 'Delete users', type: 'deleteUsers', question: `Delete ${words(count)}? Users synced from a PBX or an identity provider lose only their CloudLink account.`, typed: true }] });

  const run = async (op: Operation) => {
    setRunning(true);
    setError(undefined);
    try {
      let action = await api.post('/Actions', { schemas: [ACTION_URN], type: op.type, targets: all ? { all: true } : { ids: props.ids }, ...(op.params ? { params: op.params } : {}) });
      while (action.status === 'running') {
        await new Promise((r) => setTimeout(r, 1000));
        action = await api.get(`/Actions/${action.id}`);
      }
      setDone(action);
      setPending(undefined);
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
    } finally {
      setRunning(false);
    }
  };

  if (done) return <Summary api={api} action={done} onClose={() => props.onClose(true)} />;
  if (pending)
    return (
      <Dialog title={pending.typed ? 'Delete Selected User(s)?' : pending.label} onClose={() => setPending(undefined)}>
        <p>{pending.question}</p>
        {pending.typed && (
          <label>
            Type the word delete to confirm
            <input value={typed} onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)} autocomplete="off" />
          </label>
        )}
        <ErrorNote error={error} />
        <div class="buttons">
          <button type="button" onClick={() => setPending(undefined)}>
            Cancel
          </button>
          <button type="button" class="primary" disabled={running || (pending.typed && typed.trim().toLowerCase() !== 'delete')} onClick={() => run(pending)}>
            Confirm
          </button>
        </div>
        {running && <p aria-live="polite">Working…</p>}
      </Dialog>
    );
  return (
    <Dialog title={all ? 'Manage all' : `Manage (${count})`} onClose={() => props.onClose(false)}>
      {ops.map((g) => (
        <section key={g.group} class="op-group" aria-label={g.group}>
          <h3>{g.group}</h3>
          {g.note && <p class="note">{g.note}</p>}
          {g.items.map((op) => (
            <button
              key={op.type}
              type="button"
              onClick={() => {
                setTyped('');
                setPending(op);
              }}
            >
              {op.label}
            </button>
          ))}
        </section>
      ))}
      <div class="buttons">
        <button type="button" onClick={() => props.onClose(false)}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

const outcomeWords: Record<string, string> = { done: 'Done', skipped: 'Skipped', deferred: 'Deferred', failed: 'Failed' };

/** What the action did: its counts and every user it did not simply do, with the reason. */
function Summary(props: { api: ReturnType<typeof scim>; action: Json; onClose: () => void }) {
  const s = (props.action.summary ?? {}) as Json;
  const notDone = ((props.action.results ?? []) as Json[]).filter((r) => r.outcome !== 'done');
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    const ids = [...new Set(notDone.map((r) => String(r.userId)))].slice(0, 100);
    if (ids.length === 0) return;
    props.api
      .get('/Users', { filter: ids.map((id) => `id eq ${literal(id)}`).join(' or '), attributes: 'userName,displayName,name', count: 100 })
      .then((res) => setNames(Object.fromEntries(((res.Resources ?? []) as Json[]).map((u) => [String(u.id), nameOf(u)]))))
      .catch(() => undefined);
  }, []);
  return (
    <Dialog title="Summary" onClose={props.onClose} wide>
      {props.action.error && <p class="error">{String(props.action.error)}</p>}
      <dl class="summary">
        <dt>Users</dt>
        <dd>{Number(s.targeted ?? 0)}</dd>
        <dt>Done</dt>
        <dd>{Number(s.succeeded ?? 0)}</dd>
        <dt>Skipped</dt>
        <dd>{Number(s.skipped ?? 0)}</dd>
        <dt>Deferred</dt>
        <dd>{Number(s.deferred ?? 0)}</dd>
        <dt>Failed</dt>
        <dd>{Number(s.failed ?? 0)}</dd>
      </dl>
      {notDone.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Outcome</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {notDone.map((r) => (
              <tr key={String(r.userId)}>
                <td>{names[String(r.userId)] ?? String(r.userId)}</td>
                <td>{outcomeWords[String(r.outcome)] ?? String(r.outcome)}</td>
                <td>{String(r.reason ?? '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="buttons">
        <button type="button" class="primary" onClick={props.onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
