/**
 * The floor of this stack: a bare node:http + pg server answering the benchmarked SCIM requests with
 * hand-written SQL, one round trip per request, and the same response shape as Switchboard (the full SCIM JSON
 * of each user, with groups and the switchboard extension block). No express, no knex, no filter parser, no
 * schema validation, no ownership rules, no audit log: what is left is HTTP, the pg driver, the SQL and JSON.
 *
 *   GET   /Users/{id}                                   row + groups + source links, like Switchboard's findView
 *   GET   /Users?filter=userName eq "…"                 lower(user_name) = lower($)
 *   GET   /Users?filter=name.familyName sw "…"          lower(family_name) like '…%'      (trigram index)
 *   GET   /Users?filter=emails.value co "…"             exists(user_emails lower(value) like '%…%')  (trigram)
 *   GET   /Users?startIndex=&count=                     offset page in (created_at, id) order
 *   GET   /Users?cursor=&count=                         keyset page after (created_at, id)
 *   POST  /Users                                        one statement: insert users + user_emails
 *   PATCH /Users/{id}  (replace of a top-level string)  one statement: update … returning
 *
 * Under /stored (GET /stored/scim/v2/Users/{id}, GET /stored/scim/v2/Users?filter=userName eq "…") it reads one
 * stored document (users.resource, the representation Switchboard keeps on the row) from one table, by primary key
 * or by the unique index on lower(user_name), and adds the base URL: the physical limit of those reads.
 * Under /idp (POST and PATCH /idp/scim/v2/Users…) it writes what an identity provider's write writes, in one
 * statement: the users row with its stored document, its emails, the link to the account's scim source, and the
 * audit entry.
 *
 * totalResults comes from a scalar count subquery for filtered lists and from the account's user count shards otherwise.
 * Run alone: FLOOR_DATABASE_URL=… FLOOR_ACCOUNT_ID=… FLOOR_TOKEN=… npx tsx bench/floor-server.ts
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';
type Json = Record<string, unknown>;

export interface FloorServerOptions {
  databaseUrl: string;
  accountId: string;
  token: string;
  port?: number;
  poolMax?: number;
}

export interface FloorServer {
  url: string;
  stop(): Promise<void>;
}

interface Row {
  id: string;
  data: Json;
  registered: boolean;
  source: string;
  version: number;
  created_at: Date;
  updated_at: Date;
  updated_by: string | null;
  groups?: { value: string; display: string }[];
  links?: { kind: string; ownedAttributes: string[] }[];
  sort_value?: string;
  total?: number | string;
}

const VIEW = `u.id, u.data, u.registered, u.source, u.version, u.created_at, u.updated_at, u.updated_by,
  (select coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) order by g.display_name), '[]'::json)
     from group_members gm join groups g on g.account_id = gm.account_id and g.id = gm.group_id
    where gm.account_id = u.account_id and gm.member_id = u.id) as groups,
  (select coalesce(json_agg(json_build_object('sourceId', l.source_id, 'kind', l.source_kind, 'ownedAttributes', l.owned_attributes, 'anchor', l.anchor)), '[]'::json)
     from user_source_links l where l.account_id = u.account_id and l.user_id = u.id) as links`;
const BASE = 'u.id, u.data, u.registered, u.source, u.version, u.created_at, u.updated_at, u.updated_by';

function resource(row: Row, base: string): Json {
  const data = row.data;
  const kinds = new Set((row.links ?? []).map((l) => l.kind));
  const locked = (row.links ?? []).flatMap((l) => l.ownedAttributes.map((attribute) => ({ attribute, source: l.kind })));
  const schemas = Array.isArray(data.schemas) ? [...(data.schemas as string[])] : [CORE];
  if (!schemas.includes(SWITCHBOARD)) schemas.push(SWITCHBOARD);
  const groups = row.groups ?? [];
  return {
    ...data,
    schemas,
    id: row.id,
    ...(groups.length ? { groups: groups.map((g) => ({ value: g.value, display: g.display, $ref: `${base}/Groups/${g.value}`, type: 'direct' })) } : {}),
    meta: {
      resourceType: 'User',
      created: new Date(row.created_at).toISOString(),
      lastModified: new Date(row.updated_at).toISOString(),
      location: `${base}/Users/${row.id}`,
      version: `W/"${row.version}"`,
    },
    [SWITCHBOARD]: {
      ...((data[SWITCHBOARD] as Json | undefined) ?? {}),
      registered: row.registered,
      source: row.source,
      connections: { pbx: kinds.has('mivb'), micloud: kinds.has('micloud'), iot: false },
      ...(locked.length ? { lockedAttributes: locked } : {}),
      ...(row.updated_by ? { modifiedBy: row.updated_by } : {}),
    },
  };
}

/** A stored document (users.resource) completed with the base URL, as Switchboard's withBase does. */
function withBase(stored: Json, base: string): Json {
  const groups = stored.groups as { value: string; display: string }[] | undefined;
  const out: Json = { ...stored, meta: { ...(stored.meta as Json), location: `${base}/Users/${String(stored.id)}` } };
  if (groups && groups.length > 0) out.groups = groups.map((g) => ({ value: g.value, display: g.display, $ref: `${base}/Groups/${g.value}`, type: 'direct' }));
  else delete out.groups;
  return out;
}

/** The stored document of a new or changed user: the floor's `resource` without location, groups as stored. */
function storedDoc(row: Row, links: { kind: string; ownedAttributes: string[] }[]): Json {
  const doc = resource({ ...row, links }, '');
  delete (doc.meta as Json).location;
  doc.groups = [];
  return doc;
}

const likeEscape = (value: string) => value.replace(/[\\%_]/g, (c) => `\\${c}`);
const FILTERS: [RegExp, (v: string) => { sql: string; value: string }][] = [
  [/^userName eq "(.*)"$/i, (v) => ({ sql: 'lower(u.user_name) = lower($2)', value: v })],
  [/^name\.familyName sw "(.*)"$/i, (v) => ({ sql: 'lower(u.family_name) like $2', value: `${likeEscape(v.toLowerCase())}%` })],
  [
    /^emails\.value co "(.*)"$/i,
    (v) => ({ sql: 'exists (select 1 from user_emails e where e.account_id = u.account_id and e.user_id = u.id and lower(e.value) like $2)', value: `%${likeEscape(v.toLowerCase())}%` }),
  ],
];

function send(res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/scim+json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const scimError = (res: http.ServerResponse, status: number, detail: string) =>
  send(res, status, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), detail });

function readBody(req: http.IncomingMessage): Promise<Json> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json);
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

const encodeCursor = (sortValue: string, id: string) => Buffer.from(`${sortValue}|${id}`).toString('base64url');
function decodeCursor(cursor: string): [string, string] {
  const [value, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  return [value, id];
}

export async function startFloorServer(options: FloorServerOptions): Promise<FloorServer> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolMax ?? 10 });
  const { accountId } = options;
  const bearer = `Bearer ${options.token}`;

  async function list(res: http.ServerResponse, base: string, query: URLSearchParams): Promise<void> {
    const count = Math.min(1000, Math.max(0, Number(query.get('count') ?? 100)));
    const filterText = query.get('filter');
    let where = '';
    const params: unknown[] = [accountId];
    if (filterText) {
      const match = FILTERS.map(([re, build]) => [re.exec(filterText), build] as const).find(([m]) => m);
      if (!match) return scimError(res, 400, 'filter not supported by the floor server');
      const built = match[1](match[0]![1]);
      where = ` and ${built.sql}`;
      params.push(built.value);
    }
    // totalResults in the same round trip: an uncorrelated scalar subquery (one InitPlan, run once) counting the
    // filter, or the kept user count (account_user_counts). (count(*) over () would make the page query read every match.)
    const total = filterText ? `(select count(*) from users u where u.account_id = $1${where})` : '(select coalesce(sum(user_count), 0)::int from account_user_counts where account_id = $1)';
    const cursor = query.get('cursor');
    if (cursor !== null) {
      let after = '';
      if (cursor !== '') {
        const [value, id] = decodeCursor(cursor);
        params.push(value, id);
        after = ` and (u.created_at, u.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
      }
      params.push(count + 1);
      const { rows } = await pool.query<Row>(
        `select ${VIEW}, u.created_at::text as sort_value, ${total} as total from users u
          where u.account_id = $1${where}${after} order by u.created_at, u.id limit $${params.length}`,
        params,
      );
      const page = rows.slice(0, count);
      const body: Json = {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: Number(rows[0]?.total ?? 0),
        itemsPerPage: page.length,
        Resources: page.map((r) => resource(r, base)),
      };
      if (rows.length > count) body.nextCursor = encodeCursor(page[page.length - 1].sort_value!, page[page.length - 1].id);
      return send(res, 200, body);
    }
    const startIndex = Math.max(1, Number(query.get('startIndex') ?? 1));
    params.push(startIndex - 1, count);
    // The offset is taken on the bare rows; groups and links are read for the page only.
    const { rows } = await pool.query<Row>(
      `select ${VIEW}, u.total from (
         select u.*, ${total} as total from users u where u.account_id = $1${where}
          order by u.created_at, u.id offset $${params.length - 1} limit $${params.length}) u
        order by u.created_at, u.id`,
      params,
    );
    send(res, 200, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: Number(rows[0]?.total ?? 0),
      startIndex,
      itemsPerPage: rows.length,
      Resources: rows.map((r) => resource(r, base)),
    });
  }

  /**
   * What both creates (local and identity provider) write first: the users row of a new user (its document without
   * id, meta and password) and its emails, as the CTE `u` and the statement that reads it; `userInsertParams` binds
   * $1–$12 of both. `source` is the row's source column.
   */
  const insertUser = (source: 'local' | 'scim') => `u as (
         insert into users (account_id, id, user_name, display_name, given_name, family_name, active, primary_email, external_id, source, data, resource, updated_by, created_at, updated_at)
         values ($1, $10, $2, $3, $4, $5, $6, $7, $8, '${source}', $9, $11, 'floor', $12, $12) returning account_id, id
       )`;
  const INSERT_EMAILS = `insert into user_emails (account_id, user_id, position, value, type, is_primary)
         select u.account_id, u.id, (x.ord - 1)::smallint, x.v->>'value', x.v->>'type', coalesce((x.v->>'primary')::boolean, false)
           from u cross join lateral jsonb_array_elements($9::jsonb->'emails') with ordinality x(v, ord)`;
  function newUser(doc: Json, source: 'local' | 'scim'): { data: Json; row: Row; at: Date } {
    const data = { ...doc };
    delete data.id;
    delete data.meta;
    delete data.password;
    const at = new Date();
    return { data, at, row: { id: randomUUID(), data, registered: false, source, version: 1, created_at: at, updated_at: at, updated_by: 'floor' } };
  }
  function userInsertParams(doc: Json, user: { data: Json; row: Row; at: Date }, stored: Json): unknown[] {
    const name = (doc.name as Json | undefined) ?? {};
    const emails = (Array.isArray(doc.emails) ? doc.emails : []) as Json[];
    const primary = emails.find((e) => e.primary === true) ?? emails[0];
    return [
      accountId,
      String(doc.userName),
      typeof doc.displayName === 'string' ? doc.displayName : null,
      typeof name.givenName === 'string' ? name.givenName : null,
      typeof name.familyName === 'string' ? name.familyName : null,
      doc.active === undefined ? true : doc.active === true,
      primary && typeof primary.value === 'string' ? primary.value : null,
      typeof doc.externalId === 'string' ? doc.externalId : null,
      JSON.stringify(user.data),
      user.row.id,
      JSON.stringify(stored),
      user.at.toISOString(),
    ];
  }

  async function create(res: http.ServerResponse, base: string, doc: Json): Promise<void> {
    const user = newUser(doc, 'local');
    await pool.query(`with ${insertUser('local')} ${INSERT_EMAILS}`, userInsertParams(doc, user, storedDoc(user.row, [])));
    send(res, 201, resource(user.row, base), { ETag: 'W/"1"', Location: `${base}/Users/${user.row.id}` });
  }

  const COLUMN_OF: Record<string, string> = { displayname: 'display_name', username: 'user_name' };
  /** The one operation both PATCH floors take: a replace of one top-level attribute; undefined for anything else. */
  function singleReplace(body: Json): { path: string; value: string; column: string | undefined } | undefined {
    const ops = (Array.isArray(body.Operations) ? body.Operations : []) as Json[];
    const op = ops[0];
    if (ops.length !== 1 || !op || String(op.op).toLowerCase() !== 'replace' || typeof op.path !== 'string' || !/^\w+$/.test(op.path)) return undefined;
    return { path: op.path, value: String(op.value), column: COLUMN_OF[op.path.toLowerCase()] };
  }

  async function patch(res: http.ServerResponse, base: string, id: string, body: Json): Promise<void> {
    const op = singleReplace(body);
    if (!op) return scimError(res, 400, 'the floor server patches one top-level attribute with replace');
    const { rows } = await pool.query<Row>(
      `update users u set data = jsonb_set(u.data, array[$3::text], to_jsonb($4::text)), ${op.column ? `${op.column} = $4, ` : ''}
              resource = jsonb_set(jsonb_set(u.resource, array[$3::text], to_jsonb($4::text)), '{meta,version}', to_jsonb('W/"' || (u.version + 1) || '"')),
              version = u.version + 1, updated_at = now(), updated_by = 'floor'
        where u.account_id = $1 and u.id = $2 returning ${BASE}`,
      [accountId, id, op.path, op.value],
    );
    if (!rows[0]) return scimError(res, 404, `User ${id} not found`);
    send(res, 200, resource(rows[0], base), { ETag: `W/"${rows[0].version}"` });
  }

  async function storedGet(res: http.ServerResponse, base: string, id: string): Promise<void> {
    const { rows } = await pool.query<{ version: number; resource: Json }>('select version, resource from users where account_id = $1 and id = $2', [accountId, id]);
    if (!rows[0]) return scimError(res, 404, `User ${id} not found`);
    send(res, 200, withBase(rows[0].resource, base), { ETag: `W/"${rows[0].version}"` });
  }

  async function storedByUserName(res: http.ServerResponse, base: string, query: URLSearchParams): Promise<void> {
    const m = /^userName eq "(.*)"$/i.exec(query.get('filter') ?? '');
    if (!m) return scimError(res, 400, 'the stored floor reads userName eq only');
    const { rows } = await pool.query<{ resource: Json }>('select resource from users where account_id = $1 and lower(user_name) = lower($2)', [accountId, m[1]]);
    send(res, 200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: rows.length, startIndex: 1, itemsPerPage: rows.length, Resources: rows.map((r) => withBase(r.resource, base)) });
  }

  let scimSourceId: string | undefined;
  async function scimSource(): Promise<string> {
    if (scimSourceId) return scimSourceId;
    const { rows } = await pool.query<{ id: string }>("select id from sources where account_id = $1 and kind = 'scim'", [accountId]);
    if (!rows[0]) throw new Error('no scim source yet: run an identity provider write on Switchboard first');
    return (scimSourceId = rows[0].id);
  }

  async function idpCreate(res: http.ServerResponse, base: string, doc: Json): Promise<void> {
    const sourceId = await scimSource();
    const user = newUser(doc, 'scim');
    const owned = Object.keys(user.data).filter((k) => k !== 'schemas');
    const stored = storedDoc(user.row, [{ kind: 'scim', ownedAttributes: owned }]);
    await pool.query(
      `with ${insertUser('scim')}, e as (
         ${INSERT_EMAILS}
       ), l as (
         insert into user_source_links (account_id, user_id, source_id, source_kind, anchor, owned_attributes, attributes, raw, created_at, updated_at)
         select u.account_id, u.id, $13, 'scim', coalesce($8, u.id::text), $14, $9, $9, $12, $12 from u
       )
       insert into audit_log (account_id, actor, writer, action, target_type, target_id, details, at) select u.account_id, 'floor', 'source', 'user.create', 'User', u.id::text, '{}'::jsonb, $12 from u`,
      [...userInsertParams(doc, user, stored), sourceId, owned],
    );
    send(res, 201, withBase(stored, base), { ETag: 'W/"1"', Location: `${base}/Users/${user.row.id}` });
  }

  async function idpPatch(res: http.ServerResponse, base: string, id: string, body: Json): Promise<void> {
    const sourceId = await scimSource();
    const op = singleReplace(body);
    if (!op) return scimError(res, 400, 'the floor server patches one top-level attribute with replace');
    const at = new Date().toISOString();
    // One statement: the row (document and stored document), the scim link (claiming the attribute), the audit entry.
    const { rows } = await pool.query<{ resource: Json; version: number }>(
      `with u as (
         update users u set data = jsonb_set(u.data, array[$3::text], to_jsonb($4::text)), ${op.column ? `${op.column} = $4, ` : ''}
                resource = jsonb_set(jsonb_set(jsonb_set(jsonb_set(u.resource, array[$3::text], to_jsonb($4::text)), '{meta,version}', to_jsonb('W/"' || (u.version + 1) || '"')),
                  '{meta,lastModified}', to_jsonb($5::text)), '{${SWITCHBOARD},modifiedBy}', '"floor"'),
                version = u.version + 1, updated_at = $5::timestamptz, updated_by = 'floor'
          where u.account_id = $1 and u.id = $2 returning u.account_id, u.id, u.data, u.resource, u.version
       ), l as (
         insert into user_source_links (account_id, user_id, source_id, source_kind, anchor, owned_attributes, attributes, raw, created_at, updated_at)
         select u.account_id, u.id, $6, 'scim', coalesce(u.data->>'externalId', u.id::text), array[$3::text], u.data, u.data, $5::timestamptz, $5::timestamptz from u
         on conflict (account_id, source_id, anchor) do update set owned_attributes = excluded.owned_attributes, attributes = excluded.attributes, raw = excluded.raw, updated_at = excluded.updated_at
       ), a as (
         insert into audit_log (account_id, actor, writer, action, target_type, target_id, details, at) select u.account_id, 'floor', 'source', 'user.update', 'User', u.id::text, '{}'::jsonb, $5::timestamptz from u
       )
       select resource, version from u`,
      [accountId, id, op.path, op.value, at, sourceId],
    );
    if (!rows[0]) return scimError(res, 404, `User ${id} not found`);
    send(res, 200, withBase(rows[0].resource, base), { ETag: `W/"${rows[0].version}"` });
  }

  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.headers.authorization !== bearer) return scimError(res, 401, 'unauthorized');
      const url = new URL(req.url ?? '/', 'http://floor');
      const base = `http://${req.headers.host ?? 'localhost'}/scim/v2`;
      const mode = /^\/(stored|idp)\//.exec(url.pathname)?.[1];
      const path = url.pathname.replace(/^(\/stored|\/idp)?\/scim\/v2/, '');
      if (mode === 'stored' && path === '/Users' && req.method === 'GET') return storedByUserName(res, base, url.searchParams);
      if (mode === 'idp' && path === '/Users' && req.method === 'POST') return idpCreate(res, base, await readBody(req));
      if (path === '/Users' && req.method === 'GET') return list(res, base, url.searchParams);
      if (path === '/Users' && req.method === 'POST') return create(res, base, await readBody(req));
      const m = /^\/Users\/([^/]+)$/.exec(path);
      if (m && !uuid.test(m[1])) return scimError(res, 404, `User ${m[1]} not found`);
      if (m && mode === 'stored' && req.method === 'GET') return storedGet(res, base, m[1]);
      if (m && mode === 'idp' && req.method === 'PATCH') return idpPatch(res, base, m[1], await readBody(req));
      if (m && req.method === 'GET') {
        const { rows } = await pool.query<Row>(`select ${VIEW} from users u where u.account_id = $1 and u.id = $2`, [accountId, m[1]]);
        if (!rows[0]) return scimError(res, 404, `User ${m[1]} not found`);
        return send(res, 200, resource(rows[0], base), { ETag: `W/"${rows[0].version}"` });
      }
      if (m && req.method === 'PATCH') return patch(res, base, m[1], await readBody(req));
      scimError(res, 404, `No endpoint ${req.method} ${url.pathname}`);
    })().catch((error: unknown) => {
      const code = (error as { code?: string }).code;
      if (!res.headersSent) scimError(res, code === '23505' ? 409 : 500, String((error as Error).message));
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { FLOOR_DATABASE_URL, FLOOR_ACCOUNT_ID, FLOOR_TOKEN } = process.env;
  if (!FLOOR_DATABASE_URL || !FLOOR_ACCOUNT_ID || !FLOOR_TOKEN) {
    console.error('set FLOOR_DATABASE_URL, FLOOR_ACCOUNT_ID and FLOOR_TOKEN');
    process.exit(2);
  }
  const floor = await startFloorServer({ databaseUrl: FLOOR_DATABASE_URL, accountId: FLOOR_ACCOUNT_ID, token: FLOOR_TOKEN, port: Number(process.env.FLOOR_PORT ?? 0) });
  // One JSON line on stdout: how the parent (bench/scim-http.ts) finds the server.
  console.log(JSON.stringify({ url: floor.url }));
  const shutdown = () => void floor.stop().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
