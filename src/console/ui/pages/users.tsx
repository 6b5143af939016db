import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, literal, scim, USER_EXT, type Json, type Session } from '../api.js';
import { ErrorNote, formatDate } from '../components.js';
import { href } from '../router.js';
import { ManagePanel } from './manage.js';

/** The seed's Property filter: each option and the SCIM filter selecting it. */
export const PROPERTIES: Record<string, string> = {
  Admins: 'accountAdmin eq true',
  Users: 'accountAdmin eq false',
  Registered: 'registered eq true',
  Unregistered: 'registered eq false',
  'PBX Users': 'connections.pbx eq true',
  'MiCloud Connected': 'connections.micloud eq true',
  'IoT Connected': 'connections.iot eq true',
  Inactive: 'active eq false',
};

interface Column {
  label: string;
  sortBy: string;
}
const COLUMNS: Column[] = [
  { label: 'Name', sortBy: 'name.familyName' },
  { label: 'Email', sortBy: 'emails.value' },
  { label: 'Extensions', sortBy: 'extensions' },
  { label: 'Modified On', sortBy: 'meta.lastModified' },
  { label: 'Modified By', sortBy: 'modifiedBy' },
  { label: 'Licenses', sortBy: 'licenses' },
  { label: 'Role', sortBy: 'accountAdmin' },
];
const CONTACT_CENTER: Column = { label: 'Contact Center', sortBy: 'contactCenter' };
const PAGE_SIZE = 50;
/** Short enough that a result shows well within 150 ms of the last keystroke, long enough to skip mid-word requests. */
const SEARCH_DEBOUNCE_MS = 40;
const ATTRIBUTES = ['userName', 'displayName', 'name', 'emails', 'meta.lastModified', `${USER_EXT}:extensions`, `${USER_EXT}:modifiedBy`, `${USER_EXT}:licenses`, `${USER_EXT}:accountAdmin`, `${USER_EXT}:contactCenter`, `${USER_EXT}:registered`].join(',');

export const nameOf = (u: Json): string => String(u.displayName || [u.name?.givenName, u.name?.familyName].filter(Boolean).join(' ') || u.userName);
export const emailOf = (u: Json): string => String(((u.emails ?? []) as Json[]).find((e) => e.primary)?.value ?? (u.emails as Json[] | undefined)?.[0]?.value ?? '');

const writerWords: Record<string, string> = { operator: 'Operator', 'partner-admin': 'Partner', 'account-admin': 'Account Admin', user: 'User', link: 'The user', scim: 'SCIM (identity provider)' };
/** Modified By as words: the writer's role or source, and the short id of its token or session. */
export function modifiedBy(value: unknown): string {
  const text = String(value ?? '');
  const [kind, id] = [text.split(':')[0]!, text.split(':').slice(1).join(':')];
  const words = writerWords[kind] ?? kind;
  if (!id) return words;
  if (kind === 'link') return id === 'register' ? 'The user (registration)' : 'The user (password reset)';
  return `${words} (${id.slice(0, 8)})`;
}

import { COUNT_LIMIT, searchFilterFor as searchFilter } from '../search-filter.js';

export function Users(props: { session: Session; accountId: string; account: Json | undefined }) {
  const api = useMemo(() => scim(props.accountId), [props.accountId]);
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [property, setProperty] = useState<string | undefined>();
  const [product, setProduct] = useState<string | undefined>();
  const [sms, setSms] = useState<string | undefined>();
  const [menu, setMenu] = useState<'menu' | 'Property' | 'Product' | 'SMS Number' | undefined>();
  const [smsDraft, setSmsDraft] = useState('');
  // Unsorted (the order users were added) until a column is chosen: the first list at 100,000 users needs no sort.
  const [sort, setSort] = useState<{ by: string; order: 'ascending' | 'descending' }>({ by: '', order: 'ascending' });
  // The page shown and the cursors reaching each page, for the list they belong to (its filter and order).
  const [paging, setPaging] = useState<{ key: string; page: number; cursors: string[] }>({ key: '', page: 0, cursors: [''] });
  const [list, setList] = useState<{ rows: Json[]; total: number; more: boolean; next?: string } | undefined>();
  // The request the list or the error on screen answers.
  const [answered, setAnswered] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [showCc, setShowCc] = useState(() => localStorage.getItem('switchboard.contactCenter') === 'on');
  const [columnsOpen, setColumnsOpen] = useState(false);
  const [manage, setManage] = useState<'selected' | 'all' | undefined>();
  const [reload, setReload] = useState(0);
  const searchRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const timer = setTimeout(() => setQuery(search), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [search]);

  const filter = [sms ? `smsNumber eq ${literal(sms)}` : searchFilter(query), property ? PROPERTIES[property] : undefined, product ? `licenses eq ${literal(product)}` : undefined]
    .filter(Boolean)
    .join(' and ');

  // A new filter or order starts again at the first page, in the render that changes it: resetting the page in an
  // effect afterwards sent every search twice, the first request aborted (and its statement cancelled) at once.
  const listKey = JSON.stringify([filter, sort.by, sort.order]);
  const at = paging.key === listKey ? paging : { key: listKey, page: 0, cursors: [''] };
  const page = at.page;
  const cursor = at.cursors[page] ?? '';
  const request = JSON.stringify([listKey, cursor, reload]);
  // The list on screen is not yet the answer to what is asked (a search typed, another page): assistive technology
  // hears that it is being updated.
  const busy = answered !== request;

  useEffect(() => {
    const controller = new AbortController();
    api
      .get('/Users', { filter: filter || undefined, sortBy: sort.by || undefined, sortOrder: sort.by ? sort.order : undefined, count: PAGE_SIZE, cursor, attributes: ATTRIBUTES, totalResultsLimit: COUNT_LIMIT }, controller.signal)
      .then((res) => {
        setError(undefined);
        setList({ rows: (res.Resources ?? []) as Json[], total: Number(res.totalResults ?? 0), more: res.totalResultsLimited === true, next: res.nextCursor as string | undefined });
        setAnswered(request);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(e instanceof ApiError ? e.detail : String(e));
        setAnswered(request);
      });
    return () => controller.abort();
  }, [api, request]);

  const toggleSort = (column: Column) =>
    setSort((s) => ({ by: column.sortBy, order: s.by === column.sortBy && s.order === 'ascending' ? 'descending' : 'ascending' }));
  const rows = list?.rows ?? [];
  const allOnPage = rows.length > 0 && rows.every((u) => selected.has(String(u.id)));
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const toggleAll = () =>
    setSelected((s) => {
      const next = new Set(s);
      for (const u of rows) {
        if (allOnPage) next.delete(String(u.id));
        else next.add(String(u.id));
      }
      return next;
    });
  const setContactCenter = (on: boolean) => {
    setShowCc(on);
    localStorage.setItem('switchboard.contactCenter', on ? 'on' : 'off');
  };
  const products = ((props.account?.subscriptions ?? []) as Json[]).map((s) => String(s.product));
  if (!products.some((p) => p.toLowerCase() === 'miteam meetings')) products.push('MiTeam Meetings');
  const columns = showCc ? [...COLUMNS, CONTACT_CENTER] : COLUMNS;

  return (
    <section class="users">
      <div class="title-row">
        <h1>Users</h1>
        <div class="actions">
          <a class="button primary" href={href.newUser(props.accountId)}>
            Add User
          </a>
          <a class="button" href={href.import(props.accountId)}>
            Import Users
          </a>
          <button type="button" disabled={selected.size === 0} onClick={() => setManage('selected')}>
            Manage ({selected.size})
          </button>
          <button type="button" onClick={() => setManage('all')}>
            Manage all
          </button>
          <div class="menu-anchor">
            <button type="button" aria-label="More options" aria-haspopup="true" aria-expanded={columnsOpen} onClick={() => setColumnsOpen(!columnsOpen)}>
              ⋮
            </button>
            {columnsOpen && (
              <fieldset class="popup">
                <legend>Show/hide columns</legend>
                <label>
                  <input type="checkbox" checked={showCc} onChange={(e) => setContactCenter((e.currentTarget as HTMLInputElement).checked)} /> Contact Center (Mitel CX specific)
                </label>
                <button type="button" onClick={() => setColumnsOpen(false)}>
                  OK
                </button>
              </fieldset>
            )}
          </div>
        </div>
      </div>

      <div class="toolbar">
        <input
          ref={searchRef}
          type="search"
          aria-label="Search Users"
          placeholder="Search Users"
          value={sms ? '' : search}
          disabled={sms !== undefined}
          title={sms ? 'Search Users is not available while the SMS Number filter is applied' : undefined}
          onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)}
        />
        <div class="menu-anchor">
          <button type="button" aria-haspopup="true" aria-expanded={menu !== undefined} onClick={() => setMenu(menu ? undefined : 'menu')}>
            + Add Filter
          </button>
          {menu === 'menu' && (
            <ul class="popup" role="menu" aria-label="Add Filter">
              <li>
                <button type="button" role="menuitem" disabled={sms !== undefined} onClick={() => setMenu('Property')}>
                  Property
                </button>
              </li>
              <li>
                <button type="button" role="menuitem" onClick={() => setMenu('Product')}>
                  Product
                </button>
              </li>
              <li>
                <button type="button" role="menuitem" disabled={property !== undefined} onClick={() => setMenu('SMS Number')}>
                  SMS Number
                </button>
              </li>
            </ul>
          )}
          {menu === 'Property' && (
            <ul class="popup" role="menu" aria-label="Property">
              {Object.keys(PROPERTIES).map((p) => (
                <li key={p}>
                  <button
                    type="button"
                    role="menuitem"
                    onClick={() => {
                      setProperty(p);
                      setMenu(undefined);
                    }}
                  >
                    {p}
                  </button>
                </li>
              ))}
            </ul>
          )}
          {menu === 'Product' && (
            <ul class="popup" role="menu" aria-label="Product">
              {products.map((p) => (
                <li key={p}>
                  <button
                    type="button"
                    role="menuitem"
                    onClick={() => {
                      setProduct(p);
                      setMenu(undefined);
                    }}
                  >
                    {p}
                  </button>
                </li>
              ))}
            </ul>
          )}
          {menu === 'SMS Number' && (
            <form
              class="popup"
              onSubmit={(e) => {
                e.preventDefault();
                if (!smsDraft.trim()) return;
                setSms(smsDraft.trim());
                setSearch('');
                setMenu(undefined);
              }}
            >
              <label>
                Filter for SMS Number
                <input type="tel" value={smsDraft} onInput={(e) => setSmsDraft((e.currentTarget as HTMLInputElement).value)} />
              </label>
              <button type="submit">Apply</button>
            </form>
          )}
        </div>
        <ul class="chips" aria-label="Filters">
          {property && <Chip label={`Property: ${property}`} onRemove={() => setProperty(undefined)} />}
          {product && <Chip label={`Product: ${product}`} onRemove={() => setProduct(undefined)} />}
          {sms && (
            <Chip
              label={`SMS Number: ${sms}`}
              onRemove={() => {
                setSms(undefined);
                setSmsDraft('');
              }}
            />
          )}
        </ul>
      </div>

      <ErrorNote error={error} />
      <p class="count" aria-live="polite">
        {list ? `${list.total.toLocaleString()}${list.more ? '+' : ''} users` : 'Loading…'}
      </p>
      <table class="user-list" aria-busy={busy}>
        <thead>
          <tr>
            <th scope="col" class="select">
              <input type="checkbox" aria-label="Select all users on this page" checked={allOnPage} onChange={toggleAll} />
            </th>
            {columns.map((c) => (
              <th key={c.label} scope="col" aria-sort={sort.by === c.sortBy ? sort.order : undefined}>
                <button type="button" class="sort" onClick={() => toggleSort(c)}>
                  {c.label}
                  <span aria-hidden="true">{sort.by === c.sortBy ? (sort.order === 'ascending' ? ' ▲' : ' ▼') : ''}</span>
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((u) => {
            const ext = (u[USER_EXT] ?? {}) as Json;
            const id = String(u.id);
            return (
              <tr key={id} class={selected.has(id) ? 'selected' : undefined}>
                <td class="select">
                  <input type="checkbox" aria-label={`Select ${nameOf(u)}`} checked={selected.has(id)} onChange={() => toggle(id)} />
                </td>
                <td>
                  <a href={href.editUser(props.accountId, id)}>{nameOf(u)}</a>
                </td>
                <td>{emailOf(u)}</td>
                <td>{((ext.extensions ?? []) as string[]).join(', ')}</td>
                <td>{formatDate(u.meta?.lastModified as string | undefined)}</td>
                <td title={String(ext.modifiedBy ?? '')}>{modifiedBy(ext.modifiedBy)}</td>
                <td>{((ext.licenses ?? []) as string[]).join(', ')}</td>
                <td>{ext.accountAdmin ? 'Account Admin' : 'User'}</td>
                {showCc && <td>{((ext.contactCenter ?? []) as string[]).join(', ')}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={page === 0} onClick={() => setPaging({ ...at, page: page - 1 })}>
          Previous page
        </button>
        <span>Page {page + 1}</span>
        <button
          type="button"
          disabled={!list?.next}
          onClick={() => {
            if (!list?.next) return;
            setPaging({ key: listKey, page: page + 1, cursors: [...at.cursors.slice(0, page + 1), list.next] });
          }}
        >
          Next page
        </button>
      </nav>
      {manage && (
        <ManagePanel
          accountId={props.accountId}
          account={props.account}
          ids={manage === 'selected' ? [...selected] : undefined}
          onClose={(changed) => {
            setManage(undefined);
            if (changed) {
              setSelected(new Set());
              setReload((n) => n + 1);
            }
          }}
        />
      )}
    </section>
  );
}

function Chip(props: { label: string; onRemove: () => void }) {
  return (
    <li class="chip">
      {props.label}
      <button type="button" aria-label={`Remove filter ${props.label}`} onClick={props.onRemove}>
        ×
      </button>
    </li>
  );
}
