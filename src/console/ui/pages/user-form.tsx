import { useEffect, useMemo, useState } from 'preact/hooks';
import { ACTION_URN, ApiError, scim, USER_EXT, USER_URN, type Json, type Session } from '../api.js';
import { Dialog, ErrorNote } from '../components.js';
import { href, navigate } from '../router.js';
import { emailOf, nameOf } from './users.js';

/** Country code picker: ISO code and dialling code (the server reads national numbers in mobileCountry). */
const COUNTRIES: [string, string, string][] = [
  ['US', '+1', 'United States'], ['CA', '+1', 'Canada'], ['GB', '+44', 'United Kingdom'], ['IE', '+353', 'Ireland'], ['FR', '+33', 'France'],
  ['DE', '+49', 'Germany'], ['BE', '+32', 'Belgium'], ['NL', '+31', 'Netherlands'], ['ES', '+34', 'Spain'], ['IT', '+39', 'Italy'],
  ['CH', '+41', 'Switzerland'], ['AT', '+43', 'Austria'], ['SE', '+46', 'Sweden'], ['NO', '+47', 'Norway'], ['DK', '+45', 'Denmark'],
  ['FI', '+358', 'Finland'], ['PT', '+351', 'Portugal'], ['PL', '+48', 'Poland'], ['AU', '+61', 'Australia'], ['NZ', '+64', 'New Zealand'],
  ['IN', '+91', 'India'], ['JP', '+81', 'Japan'], ['SG', '+65', 'Singapore'], ['ZA', '+27', 'South Africa'], ['MX', '+52', 'Mexico'], ['BR', '+55', 'Brazil'],
];

type Field = 'givenName' | 'familyName' | 'email' | 'mobileNumber' | 'smsNumber' | 'username' | 'userName';
const LABELS: Record<Field, string> = { givenName: 'First Name', familyName: 'Last Name', email: 'Email', mobileNumber: 'Mobile Number', smsNumber: 'SMS Number', username: 'Username', userName: 'Email' };

/** Which field an API error names, so it is shown there (SCIM details name the attribute). */
export function fieldOf(detail: string): Field | undefined {
  if (/givenName|first name/i.test(detail)) return 'givenName';
  if (/familyName|last name/i.test(detail)) return 'familyName';
  if (/smsNumber|sms number/i.test(detail)) return 'smsNumber';
  if (/mobileNumber|mobileCountry|mobile number/i.test(detail)) return 'mobileNumber';
  if (/:username\b|\busername\b/.test(detail)) return 'username';
  if (/emails?\b|email address|userName/i.test(detail)) return 'email';
  return undefined;
}

/** The seed's locked fields: attribute paths of lockedAttributes that cover a form field. */
const lockPaths: Record<Field, string[]> = {
  givenName: ['name', 'name.givenName'],
  familyName: ['name', 'name.familyName'],
  email: ['emails', 'userName'],
  userName: ['userName'],
  mobileNumber: [`${USER_EXT}:mobileNumber`],
  smsNumber: [`${USER_EXT}:smsNumber`],
  username: [`${USER_EXT}:username`],
};

/** Add User (the New User form) without userId, Edit User with it. */
export function UserForm(props: { session: Session; accountId: string; userId?: string; account: Json | undefined }) {
  const api = useMemo(() => scim(props.accountId), [props.accountId]);
  const editing = props.userId !== undefined;
  const [user, setUser] = useState<Json | undefined>();
  const [advanced, setAdvanced] = useState<Json | undefined>();
  const [values, setValues] = useState<Record<string, string>>({ givenName: '', familyName: '', email: '', mobileNumber: '', mobileCountry: 'US', smsNumber: '', username: '' });
  const [admin, setAdmin] = useState(false);
  const [mivb, setMivb] = useState(false);
  const [licence, setLicence] = useState(false);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [smsSearch, setSmsSearch] = useState('');
  const [deleting, setDeleting] = useState(false);

  const load = async () => {
    if (!props.userId) return;
    try {
      const u = await api.get(`/Users/${props.userId}`);
      setUser(u);
      const ext = (u[USER_EXT] ?? {}) as Json;
      const mobile = String(ext.mobileNumber ?? '');
      const country = COUNTRIES.find(([iso]) => iso === ext.mobileCountry) ?? COUNTRIES.find(([, dial]) => mobile.startsWith(dial));
      setValues({
        givenName: String(u.name?.givenName ?? ''),
        familyName: String(u.name?.familyName ?? ''),
        email: emailOf(u),
        mobileNumber: country && mobile.startsWith(country[1]) ? mobile.slice(country[1].length) : mobile,
        mobileCountry: country?.[0] ?? 'US',
        smsNumber: String(ext.smsNumber ?? ''),
        username: String(ext.username ?? ''),
      });
      setAdmin(ext.accountAdmin === true);
      setMivb(ext.mivbService === true);
      setLicence(((ext.licenses ?? []) as string[]).some((l) => l.toLowerCase() === 'miteam meetings'));
      const adv = await api.get(`/Users/${props.userId}`, { attributes: `${USER_EXT}:advanced` });
      setAdvanced(((adv[USER_EXT] ?? {}) as Json).advanced as Json | undefined);
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
    }
  };
  useEffect(() => {
    load();
  }, [props.userId]);

  const ext = (user?.[USER_EXT] ?? {}) as Json;
  const locked = (field: Field): string | undefined => {
    const owner = ((ext.lockedAttributes ?? []) as Json[]).find((l) => lockPaths[field].includes(String(l.attribute)));
    return owner ? String(owner.source) : undefined;
  };
  const settings = (props.account?.settings ?? {}) as Json;
  const smsEnabled = settings.twilio?.enabled && settings.twilio?.userNumbers;
  const pool = ((settings.twilio?.smsPool ?? []) as string[]).filter((n) => !smsSearch || n.includes(smsSearch.replace(/\s/g, '')));
  const subscription = ((props.account?.subscriptions ?? []) as Json[]).find((s) => String(s.product).toLowerCase() === 'miteam meetings');
  const licencesShown = editing && props.account?.type === 'customer' && settings.miTeamMeetings && !settings.miCollab && subscription;
  const set = (name: string) => (e: Event) => setValues((v) => ({ ...v, [name]: (e.currentTarget as HTMLInputElement).value }));
  const mobileE164 = () => {
    const digits = values.mobileNumber.replace(/[^\d+]/g, '');
    if (!digits) return '';
    if (digits.startsWith('+')) return digits;
    const dial = COUNTRIES.find(([iso]) => iso === values.mobileCountry)?.[1] ?? '';
    return `${dial}${digits.replace(/^0+/, '')}`;
  };

  const showError = (e: unknown) => {
    if (e instanceof ApiError) {
      const field = fieldOf(e.detail);
      if (field && (field !== 'username' || mivb)) {
        setErrors({ [field]: e.detail });
        setError(undefined);
        document.getElementById(`field-${field}`)?.focus();
        return;
      }
      setErrors({});
      setError(e.detail);
    } else setError(String(e));
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setError(undefined);
    setNotice(undefined);
    try {
      if (!editing) {
        const created = await api.post('/Users', {
          schemas: [USER_URN, USER_EXT],
          userName: values.email.trim(),
          name: { givenName: values.givenName.trim(), familyName: values.familyName.trim() },
          displayName: `${values.givenName.trim()} ${values.familyName.trim()}`.trim(),
          emails: values.email.trim() ? [{ value: values.email.trim(), primary: true }] : [],
          [USER_EXT]: { accountAdmin: admin, ...(mobileE164() ? { mobileNumber: mobileE164(), mobileCountry: values.mobileCountry } : {}), ...(values.smsNumber ? { smsNumber: values.smsNumber } : {}) },
        });
        navigate(href.editUser(props.accountId, String(created.id)));
        return;
      }
      const ops: Json[] = [];
      const before = user!;
      const beforeExt = (before[USER_EXT] ?? {}) as Json;
      if (!locked('givenName') && values.givenName.trim() !== String(before.name?.givenName ?? '')) ops.push({ op: 'replace', path: 'name.givenName', value: values.givenName.trim() });
      if (!locked('familyName') && values.familyName.trim() !== String(before.name?.familyName ?? '')) ops.push({ op: 'replace', path: 'name.familyName', value: values.familyName.trim() });
      // The display name follows the names (the list shows it and Search Users finds it), unless a source owns it.
      const display = `${values.givenName.trim()} ${values.familyName.trim()}`.trim();
      if (ops.length > 0 && !((ext.lockedAttributes ?? []) as Json[]).some((l) => l.attribute === 'displayName') && display !== String(before.displayName ?? '')) {
        ops.push({ op: 'replace', path: 'displayName', value: display });
      }
      if (!locked('email') && values.email.trim() !== emailOf(before)) ops.push({ op: 'replace', path: 'emails', value: [{ value: values.email.trim(), primary: true }] });
      const mobile = mobileE164();
      if (!locked('mobileNumber') && mobile !== String(beforeExt.mobileNumber ?? '')) {
        ops.push(mobile ? { op: 'replace', path: `${USER_EXT}:mobileNumber`, value: mobile } : { op: 'remove', path: `${USER_EXT}:mobileNumber` });
      }
      if (smsEnabled && values.smsNumber !== String(beforeExt.smsNumber ?? '')) {
        ops.push(values.smsNumber ? { op: 'replace', path: `${USER_EXT}:smsNumber`, value: values.smsNumber } : { op: 'remove', path: `${USER_EXT}:smsNumber` });
      }
      if (admin !== (beforeExt.accountAdmin === true)) ops.push({ op: 'replace', path: `${USER_EXT}:accountAdmin`, value: admin });
      if (!locked('username') && mivb !== (beforeExt.mivbService === true)) ops.push({ op: 'replace', path: `${USER_EXT}:mivbService`, value: mivb });
      if (mivb && !locked('username') && values.username.trim() !== String(beforeExt.username ?? '')) ops.push({ op: 'replace', path: `${USER_EXT}:username`, value: values.username.trim() });
      if (licencesShown) {
        const others = ((beforeExt.licenses ?? []) as string[]).filter((l) => l.toLowerCase() !== 'miteam meetings');
        const had = ((beforeExt.licenses ?? []) as string[]).length !== others.length;
        if (licence !== had) ops.push({ op: 'replace', path: `${USER_EXT}:licenses`, value: licence ? [...others, 'MiTeam Meetings'] : others });
      }
      if (ops.length > 0) setUser(await api.patch(`/Users/${props.userId}`, ops));
      setNotice('Saved.');
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
    }
  };

  const action = async (type: string, done: string) => {
    setNotice(undefined);
    setError(undefined);
    try {
      const result = await api.post('/Actions', { schemas: [ACTION_URN], type, targets: { ids: [props.userId] } });
      const r = ((result.results ?? []) as Json[])[0];
      setNotice(r && r.outcome !== 'done' ? `${r.outcome === 'deferred' ? 'Deferred' : 'Not sent'}: ${String(r.reason ?? '')}` : done);
    } catch (e) {
      showError(e);
    }
  };

  const field = (name: Field, type = 'text', required = false) => {
    const owner = editing ? locked(name) : undefined;
    const err = errors[name];
    const describedBy = [err ? `${name}-error` : '', owner ? `${name}-owner` : ''].filter(Boolean).join(' ') || undefined;
    return (
      <div class="field">
        <label for={`field-${name}`}>
          {LABELS[name]}
          {required && <span aria-hidden="true"> *</span>}
        </label>
        <input
          id={`field-${name}`}
          type={type}
          value={values[name]}
          onInput={set(name)}
          required={required}
          disabled={owner !== undefined}
          aria-invalid={err ? 'true' : undefined}
          aria-describedby={describedBy}
        />
        {owner && (
          <p class="hint" id={`${name}-owner`}>
            Managed by the {owner} source
          </p>
        )}
        {err && (
          <p class="field-error" id={`${name}-error`}>
            {err}
          </p>
        )}
      </div>
    );
  };

  if (editing && !user) return <section>{error ? <ErrorNote error={error} /> : <p>Loading…</p>}</section>;
  return (
    <section class="user-form">
      <p>
        <a href={href.users(props.accountId)}>← Users</a>
      </p>
      <h1>{editing ? nameOf(user!) : 'New User'}</h1>
      {editing && ext.source && ext.source !== 'local' && (
        <p class="note">This user comes from a {String(ext.source)} source: fields it owns are disabled here, and changes made in the source are written over them on its next sync.</p>
      )}
      <form onSubmit={save} noValidate>
        {field('givenName', 'text', true)}
        {field('familyName', 'text', true)}
        {field('email', 'email', true)}
        <div class="field">
          <label for="field-mobileNumber">Mobile Number</label>
          <div class="inline">
            <select aria-label="Country code" value={values.mobileCountry} onChange={set('mobileCountry')} disabled={editing && locked('mobileNumber') !== undefined}>
              {COUNTRIES.map(([iso, dial, name]) => (
                <option key={iso} value={iso}>
                  {name} ({dial})
                </option>
              ))}
            </select>
            <input
              id="field-mobileNumber"
              type="tel"
              value={values.mobileNumber}
              onInput={set('mobileNumber')}
              disabled={editing && locked('mobileNumber') !== undefined}
              aria-invalid={errors.mobileNumber ? 'true' : undefined}
              aria-describedby={errors.mobileNumber ? 'mobileNumber-error' : undefined}
            />
          </div>
          {errors.mobileNumber && (
            <p class="field-error" id="mobileNumber-error">
              {errors.mobileNumber}
            </p>
          )}
        </div>
        {smsEnabled && (
          <div class="field">
            <label for="field-smsNumber">SMS Number</label>
            <div class="inline">
              <input type="search" aria-label="Search SMS numbers" placeholder="Search" value={smsSearch} onInput={(e) => setSmsSearch((e.currentTarget as HTMLInputElement).value)} />
              <select
                id="field-smsNumber"
                value={values.smsNumber}
                onChange={set('smsNumber')}
                aria-invalid={errors.smsNumber ? 'true' : undefined}
                aria-describedby={errors.smsNumber ? 'smsNumber-error' : undefined}
              >
                <option value="">None</option>
                {values.smsNumber && !pool.includes(values.smsNumber) && <option value={values.smsNumber}>{values.smsNumber}</option>}
                {pool.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </div>
            {errors.smsNumber && (
              <p class="field-error" id="smsNumber-error">
                {errors.smsNumber}
              </p>
            )}
          </div>
        )}
        <div class="field">
          <label class="toggle">
            <input type="checkbox" role="switch" checked={admin} onChange={(e) => setAdmin((e.currentTarget as HTMLInputElement).checked)} /> Account Admin
          </label>
        </div>
        {editing && (
          <div class="field">
            <label class="toggle">
              <input type="checkbox" role="switch" checked={mivb} disabled={locked('username') !== undefined} onChange={(e) => setMivb((e.currentTarget as HTMLInputElement).checked)} /> MiVoice Business service
            </label>
          </div>
        )}
        {editing && (
          <div class="field">
            <label for="field-username">Username</label>
            <input
              id="field-username"
              value={values.username}
              onInput={set('username')}
              disabled={!mivb || locked('username') !== undefined}
              aria-invalid={errors.username ? 'true' : undefined}
              aria-describedby={errors.username ? 'username-error' : 'username-hint'}
            />
            <p class="hint" id="username-hint">
              {locked('username') ? `Managed by the ${locked('username')} source` : 'Enabled when the MiVoice Business service is added.'}
            </p>
            {errors.username && (
              <p class="field-error" id="username-error">
                {errors.username}
              </p>
            )}
          </div>
        )}
        {licencesShown && (
          <div class="field">
            <label class="toggle">
              <input type="checkbox" checked={licence} onChange={(e) => setLicence((e.currentTarget as HTMLInputElement).checked)} /> MiTeam Meetings license ({Number(subscription.available ?? 0)} available)
            </label>
          </div>
        )}
        <ErrorNote error={error} />
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <div class="buttons">
          <a class="button" href={href.users(props.accountId)}>
            Cancel
          </a>
          <button type="submit" class="primary" disabled={busy}>
            {editing ? 'Save' : 'Create'}
          </button>
        </div>
      </form>
      {editing && (
        <>
          <div class="links">
            <button type="button" class="link" onClick={() => action('sendWelcomeEmail', 'The welcome email is on its way.')}>
              Resend the welcome email
            </button>
            {ext.registered && (
              <button type="button" class="link" onClick={() => action('resetPassword', 'A password reset email is on its way.')}>
                Reset password
              </button>
            )}
          </div>
          {advanced && Object.keys(advanced).length > 0 && (
            <details class="advance">
              <summary>Advance</summary>
              {Object.entries(advanced).map(([source, raw]) => (
                <section key={source}>
                  <h3>{source}</h3>
                  <pre>{JSON.stringify(raw, null, 2)}</pre>
                </section>
              ))}
            </details>
          )}
          <div class="danger">
            <button type="button" class="danger" onClick={() => setDeleting(true)}>
              Delete
            </button>
          </div>
          {deleting && <DeleteUser api={api} accountId={props.accountId} user={user!} onClose={() => setDeleting(false)} />}
        </>
      )}
    </section>
  );
}

/** Delete User: the word `delete` typed first; then the seed's outcome for the user's source. */
function DeleteUser(props: { api: ReturnType<typeof scim>; accountId: string; user: Json; onClose: () => void }) {
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [outcome, setOutcome] = useState<string | undefined>();
  const remove = async () => {
    try {
      await props.api.del(`/Users/${props.user.id}`);
      try {
        await props.api.get(`/Users/${props.user.id}`, { attributes: 'userName' });
        const source = String((props.user[USER_EXT] ?? {}).source ?? 'its source');
        setOutcome(`Only the CloudLink account of ${nameOf(props.user)} was removed: the user is synced from ${source} and stays listed. Send a welcome email to give them a CloudLink account again.`);
      } catch {
        setOutcome(`${nameOf(props.user)} was deleted.`);
      }
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : String(e));
    }
  };
  if (outcome)
    return (
      <Dialog title="Delete User" onClose={() => navigate(href.users(props.accountId))}>
        <p role="status">{outcome}</p>
        <div class="buttons">
          <button type="button" class="primary" onClick={() => navigate(href.users(props.accountId))}>
            Close
          </button>
        </div>
      </Dialog>
    );
  return (
    <Dialog title="Delete User" onClose={props.onClose}>
      <p>
        Delete {nameOf(props.user)}? Type the word <strong>delete</strong> to confirm.
      </p>
      <label>
        Confirmation
        <input value={typed} onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)} autocomplete="off" />
      </label>
      <ErrorNote error={error} />
      <div class="buttons">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" class="danger" disabled={typed.trim().toLowerCase() !== 'delete'} onClick={remove}>
          Delete
        </button>
      </div>
    </Dialog>
  );
}
