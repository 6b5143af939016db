/**
 * A Microsoft Graph and Entra sign-in double for tests and benchmarks, written from Microsoft's documented shapes
 * (the only test double of the project: Graph cannot run here). An HTTPS server with a certificate made at start:
 *
 * - `POST /{tenant}/oauth2/v2.0/token`: client credentials with a secret or a certificate assertion (JWT, RS256 or
 *   PS256, checked against the uploaded certificate); AADSTS errors as Entra words them.
 * - `GET /v1.0/users/delta` and `/v1.0/groups/delta`: `$select`, `Prefer: odata.maxpagesize`, `@odata.nextLink`
 *   pages, a final `@odata.deltaLink`; later rounds carry the changed objects only, updated ones with only their
 *   changed properties (Graph's "at least the updated properties"), `@removed` with reason `changed` (soft delete)
 *   or `deleted`, `manager@delta`, `members@delta` (a group over several pages in a first round).
 * - `POST /v1.0/$batch` (JSON batching, 20 requests at most, each answered on its own: faults apply per request).
 * - `GET /v1.0/users`, `/v1.0/users/{id}` (`$expand=manager`), `/v1.0/groups`, `/v1.0/groups/{id}`,
 *   `/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user`.
 * - Faults on demand: 429/503/504 with `Retry-After`, 410 `syncStateNotFound` for old delta tokens, tokens that
 *   stop working after N requests (401 `InvalidAuthenticationToken`), 403 `Authorization_RequestDenied` for an
 *   application permission the app was not granted.
 */
import { X509Certificate, constants, createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serverCertificate } from './tls.js';

export type GraphUserData = Record<string, unknown> & { id: string };

interface UserEntry {
  data: GraphUserData;
  manager: string | null;
  createdSeq: number;
  /** property → seq of its last change. */
  changed: Map<string, number>;
  managerSeq: number;
  lastSeq: number;
  removed?: 'changed' | 'deleted';
}

interface GroupEntry {
  id: string;
  displayName: string;
  description: string | null;
  /** member id → 'user' | 'group'. */
  members: Map<string, 'user' | 'group'>;
  /** member id → seq of its removal, for incremental rounds. */
  removedMembers: Map<string, number>;
  memberSeq: Map<string, number>;
  createdSeq: number;
  lastSeq: number;
  deleted?: boolean;
}

export interface AppRegistration {
  clientId: string;
  clientSecret?: string;
  certificatePem?: string;
  /** Application permissions granted with admin consent. */
  roles: string[];
}

export interface Fault {
  /** Matched against the request path (with query). */
  path: RegExp;
  status: 429 | 503 | 504 | 500;
  retryAfterSeconds?: number;
  times: number;
}

interface Round {
  kind: 'users' | 'groups';
  ids: string[];
  offset: number;
  /** undefined in a first round. */
  since: number | undefined;
  endSeq: number;
  select: string[] | undefined;
  epoch: number;
}

interface Token {
  clientId: string;
  roles: string[];
  expiresAt: number;
  usesLeft: number;
}

export interface GraphRequestLog {
  method: string;
  path: string;
  status: number;
}

const USER_TYPE = '#microsoft.graph.user';
const GROUP_TYPE = '#microsoft.graph.group';

export class GraphTestServer {
  readonly tenantId: string;
  readonly apps = new Map<string, AppRegistration>();
  readonly requests: GraphRequestLog[] = [];
  caCertPem = '';
  url = '';
  tokenRequests = 0;
  /** Seconds a token claims to live (`expires_in`). */
  tokenLifetimeSeconds = 3600;
  /** Graph requests a newly issued token serves before Graph calls it expired (Infinity: it does not). */
  tokenUses = Number.POSITIVE_INFINITY;
  defaultPageSize = 100;
  /** Members of one group per entry in a first groups round (a group spread over entries, as Graph does). */
  membersPerEntry = 20;

  private server?: Server;
  private seq = 0;
  private epoch = 1;
  private readonly users = new Map<string, UserEntry>();
  private readonly groups = new Map<string, GroupEntry>();
  private readonly tokens = new Map<string, Token>();
  private readonly rounds = new Map<string, Round>();
  private readonly faults: Fault[] = [];

  constructor(tenantId: string = randomUUID()) {
    this.tenantId = tenantId;
  }

  static async start(options: { tenantId?: string } = {}): Promise<GraphTestServer> {
    const graph = new GraphTestServer(options.tenantId);
    await graph.listen();
    return graph;
  }

  private async listen(): Promise<void> {
    const { certificatePem, privateKeyPem } = await serverCertificate();
    this.caCertPem = certificatePem;
    const server = createServer({ cert: certificatePem, key: privateKeyPem, keepAlive: true }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.send(req, res, 500, { error: { code: 'generalException', message: String(error) } });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- the directory --------------------------------------------------------------------------------------------

  registerApp(app: Partial<AppRegistration> = {}): AppRegistration {
    const registration: AppRegistration = {
      clientId: app.clientId ?? randomUUID(),
      roles: app.roles ?? ['User.Read.All', 'GroupMember.Read.All'],
      ...(app.certificatePem ? { certificatePem: app.certificatePem } : { clientSecret: app.clientSecret ?? `secret~${randomBytes(12).toString('base64url')}` }),
    };
    this.apps.set(registration.clientId, registration);
    return registration;
  }

  addUser(data: Partial<GraphUserData> = {}, manager: string | null = null): GraphUserData {
    const id = data.id ?? randomUUID();
    const seq = ++this.seq;
    const user: GraphUserData = { accountEnabled: true, businessPhones: [], ...data, id };
    this.users.set(id, { data: user, manager, createdSeq: seq, changed: new Map(), managerSeq: seq, lastSeq: seq });
    return user;
  }

  /** `count` users `u00000…`, every tenth one managed by the user before it. */
  addUsers(count: number, domain = 'contoso.example'): GraphUserData[] {
    const out: GraphUserData[] = [];
    for (let i = 0; i < count; i++) {
      const n = String(this.users.size).padStart(6, '0');
      out.push(
        this.addUser({
          userPrincipalName: `u${n}@${domain}`,
          mail: `u${n}@${domain}`,
          givenName: `Given${n}`,
          surname: `Sur${n}`,
          displayName: `Given${n} Sur${n}`,
          jobTitle: 'Engineer',
          department: `Dept ${i % 20}`,
          employeeId: `E${n}`,
          mobilePhone: `+32 470 ${n.slice(0, 2)} ${n.slice(2, 4)} ${n.slice(4, 6)}`,
          businessPhones: [`+32 2 555 ${n.slice(2, 4)} ${n.slice(4, 6)}`],
          usageLocation: 'BE',
        }),
      );
    }
    return out;
  }

  user(id: string): GraphUserData | undefined {
    const entry = this.users.get(id);
    return entry && !entry.removed ? entry.data : undefined;
  }

  get userCount(): number {
    let n = 0;
    for (const entry of this.users.values()) if (!entry.removed) n++;
    return n;
  }

  /** Sets properties (a `null` empties one). */
  updateUser(id: string, changes: Record<string, unknown>): void {
    const entry = this.liveUser(id);
    const seq = ++this.seq;
    for (const [key, value] of Object.entries(changes)) {
      entry.data[key] = value;
      entry.changed.set(key, seq);
    }
    entry.lastSeq = seq;
  }

  setManager(id: string, manager: string | null): void {
    const entry = this.liveUser(id);
    entry.manager = manager;
    entry.managerSeq = entry.lastSeq = ++this.seq;
  }

  /** Deleted into the recycle bin (restorable): `@removed` reason `changed`. */
  softDeleteUser(id: string): void {
    const entry = this.liveUser(id);
    entry.removed = 'changed';
    entry.lastSeq = ++this.seq;
    this.dropMemberships(id);
  }

  /** Restored from the recycle bin: listed again whole. */
  restoreUser(id: string): void {
    const entry = this.users.get(id);
    if (entry?.removed !== 'changed') throw new Error(`user ${id} is not in the recycle bin`);
    delete entry.removed;
    entry.createdSeq = entry.lastSeq = ++this.seq;
  }

  /** Permanently deleted: `@removed` reason `deleted`. */
  hardDeleteUser(id: string): void {
    const entry = this.users.get(id);
    if (!entry || entry.removed === 'deleted') throw new Error(`no user ${id}`);
    entry.removed = 'deleted';
    entry.lastSeq = ++this.seq;
    this.dropMemberships(id);
  }

  addGroup(displayName: string, members: Array<{ id: string; type?: 'user' | 'group' }> = [], id: string = randomUUID()): string {
    const seq = ++this.seq;
    const group: GroupEntry = { id, displayName, description: null, members: new Map(), removedMembers: new Map(), memberSeq: new Map(), createdSeq: seq, lastSeq: seq };
    for (const m of members) {
      group.members.set(m.id, m.type ?? 'user');
      group.memberSeq.set(m.id, seq);
    }
    this.groups.set(id, group);
    return id;
  }

  addMember(groupId: string, memberId: string, type: 'user' | 'group' = 'user'): void {
    const group = this.liveGroup(groupId);
    const seq = ++this.seq;
    group.members.set(memberId, type);
    group.memberSeq.set(memberId, seq);
    group.removedMembers.delete(memberId);
    group.lastSeq = seq;
  }

  removeMember(groupId: string, memberId: string): void {
    const group = this.liveGroup(groupId);
    const seq = ++this.seq;
    group.members.delete(memberId);
    group.memberSeq.delete(memberId);
    group.removedMembers.set(memberId, seq);
    group.lastSeq = seq;
  }

  renameGroup(groupId: string, displayName: string): void {
    const group = this.liveGroup(groupId);
    group.displayName = displayName;
    group.lastSeq = ++this.seq;
  }

  deleteGroup(groupId: string): void {
    const group = this.liveGroup(groupId);
    group.deleted = true;
    group.lastSeq = ++this.seq;
  }

  // ---- faults ---------------------------------------------------------------------------------------------------

  /** The next `times` requests whose path matches are answered `status` (with `Retry-After` when given). */
  fail(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  /** Every delta token and skip token issued so far is refused with 410 `syncStateNotFound`. */
  expireDeltaTokens(): void {
    this.epoch++;
    this.rounds.clear();
  }

  /** Every access token issued so far stops working (401), as when one expires mid-run. */
  expireAccessTokens(): void {
    for (const token of this.tokens.values()) token.usesLeft = 0;
  }

  /** Requests to Graph (not sign-in) whose path matches. */
  graphRequests(path: RegExp = /./): GraphRequestLog[] {
    return this.requests.filter((r) => r.path.startsWith('/v1.0/') && path.test(r.path));
  }

  // ---- HTTP -----------------------------------------------------------------------------------------------------

  private send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.requests.push({ method: req.method ?? 'GET', path: req.url ?? '', status });
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; odata.metadata=minimal', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const fault = this.takeFault(url);
    if (fault) return this.reply(req, res, fault);
    if (req.method === 'POST' && url.pathname === `/${this.tenantId}/oauth2/v2.0/token`) return this.token(req, res);
    if (req.method === 'POST' && url.pathname.endsWith('/oauth2/v2.0/token')) {
      return this.send(req, res, 400, { error: 'invalid_request', error_description: `AADSTS90002: Tenant '${url.pathname.split('/')[1]}' not found.`, error_codes: [90002] });
    }
    if (!url.pathname.startsWith('/v1.0/')) return this.reply(req, res, graphError(404, 'Request_ResourceNotFound', `No route ${url.pathname}`));
    const token = this.authenticate(req);
    if (!token) return this.reply(req, res, graphError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not valid yet.'));
    if (req.method === 'POST' && url.pathname === '/v1.0/$batch') {
      const body = JSON.parse(await readBody(req)) as { requests?: Array<{ id: string; method: string; url: string }> };
      const requests = body.requests ?? [];
      if (requests.length > 20) return this.reply(req, res, graphError(400, 'BadRequest', 'Maximum number of requests in a batch is 20.'));
      const responses = requests.map((sub) => {
        const subUrl = new URL(`/v1.0${sub.url.startsWith('/') ? '' : '/'}${sub.url}`, this.url);
        const reply = this.takeFault(subUrl) ?? (sub.method === 'GET' ? this.routeGet(subUrl, token, this.defaultPageSize) : graphError(405, 'Request_BadRequest', 'Only GET here'));
        this.requests.push({ method: sub.method, path: `${subUrl.pathname}${subUrl.search}`, status: reply.status });
        return { id: sub.id, status: reply.status, headers: { 'content-type': 'application/json', ...reply.headers }, body: reply.body };
      });
      return this.send(req, res, 200, { responses });
    }
    if (req.method !== 'GET') return this.reply(req, res, graphError(405, 'Request_BadRequest', 'Only GET here'));
    return this.reply(req, res, this.routeGet(url, token, this.pageSizeOf(req, url)));
  }

  private reply(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    this.send(req, res, reply.status, reply.body, reply.headers);
  }

  private takeFault(url: URL): Reply | undefined {
    const fault = this.faults.find((f) => f.times > 0 && f.path.test(`${url.pathname}${url.search}`));
    if (!fault) return undefined;
    fault.times--;
    const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
    const code = fault.status === 429 ? 'TooManyRequests' : fault.status === 503 ? 'serviceNotAvailable' : fault.status === 504 ? 'gatewayTimeout' : 'generalException';
    return graphError(fault.status, code, 'Injected fault', headers);
  }

  private routeGet(url: URL, token: Token, pageSize: number): Reply {
    const path = url.pathname.slice('/v1.0/'.length);
    const needs = path.startsWith('groups') ? 'GroupMember.Read.All' : 'User.Read.All';
    const granted = token.roles.includes(needs) || token.roles.includes('Directory.Read.All') || (needs === 'GroupMember.Read.All' && token.roles.includes('Group.Read.All'));
    if (!granted) return graphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    if (path === 'users/delta' || path === 'groups/delta') return this.delta(url, path === 'users/delta' ? 'users' : 'groups', pageSize);
    if (path === 'users') return this.list(url, [...this.users.values()].filter((u) => !u.removed).map((u) => this.renderUser(u, selectOf(url), false)));
    if (path === 'groups') return this.list(url, [...this.groups.values()].filter((g) => !g.deleted).map((g) => ({ id: g.id, displayName: g.displayName })));
    const missing = (id: string): Reply => graphError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
    let m = /^users\/([^/]+)$/.exec(path);
    if (m) {
      const entry = this.users.get(decodeURIComponent(m[1]!));
      if (!entry || entry.removed) return missing(m[1]!);
      const user = this.renderUser(entry, selectOf(url), false);
      if (/manager/.test(url.searchParams.get('$expand') ?? '') && entry.manager) user.manager = { '@odata.type': USER_TYPE, id: entry.manager };
      return { status: 200, body: { '@odata.context': `${this.url}/v1.0/$metadata#users/$entity`, ...user } };
    }
    m = /^groups\/([^/]+)$/.exec(path);
    if (m) {
      const group = this.groups.get(decodeURIComponent(m[1]!));
      if (!group || group.deleted) return missing(m[1]!);
      return { status: 200, body: { id: group.id, displayName: group.displayName } };
    }
    m = /^groups\/([^/]+)\/transitiveMembers\/microsoft\.graph\.user$/.exec(path);
    if (m) {
      const group = this.groups.get(decodeURIComponent(m[1]!));
      if (!group || group.deleted) return missing(m[1]!);
      const ids = [...this.transitiveUsers(group.id, new Set())];
      return this.list(url, ids.map((id) => ({ '@odata.type': USER_TYPE, id })));
    }
    return graphError(400, 'BadRequest', `Resource not found for the segment '${path}'.`);
  }

  private pageSizeOf(req: IncomingMessage, url: URL): number {
    const prefer = /odata\.maxpagesize=(\d+)/.exec(String(req.headers.prefer ?? ''));
    const top = url.searchParams.get('$top');
    return Math.min(999, Number(prefer?.[1] ?? top ?? this.defaultPageSize) || this.defaultPageSize);
  }

  /** A plain collection, paged by `$skiptoken` (an offset). */
  private list(url: URL, items: unknown[]): Reply {
    const top = Math.min(999, Number(url.searchParams.get('$top') ?? 100) || 100);
    const offset = Number(url.searchParams.get('$skiptoken') ?? 0) || 0;
    const body: Record<string, unknown> = { value: items.slice(offset, offset + top) };
    if (offset + top < items.length) {
      const next = new URL(url);
      next.searchParams.set('$skiptoken', String(offset + top));
      body['@odata.nextLink'] = next.toString();
    }
    return { status: 200, body };
  }

  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.tokenRequests++;
    const form = new URLSearchParams(await readBody(req));
    const fail = (status: number, error: string, code: number, description: string): void =>
      this.send(req, res, status, { error, error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() });
    if (form.get('grant_type') !== 'client_credentials') return fail(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const app = this.apps.get(form.get('client_id') ?? '');
    if (!app) return fail(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id')}' was not found in the directory '${this.tenantId}'.`);
    if (!/\/\.default$/.test(form.get('scope') ?? '')) return fail(400, 'invalid_scope', 1002012, 'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.');
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (secret !== app.clientSecret) return fail(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
    } else if (assertion !== null) {
      if (!app.certificatePem || !verifyAssertion(assertion, app.certificatePem, app.clientId)) {
        return fail(401, 'invalid_client', 700027, 'The certificate with identifier used to sign the client assertion is not registered on application.');
      }
    } else return fail(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    const accessToken = randomBytes(24).toString('base64url');
    this.tokens.set(accessToken, { clientId: app.clientId, roles: [...app.roles], expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000, usesLeft: this.tokenUses });
    this.send(req, res, 200, { token_type: 'Bearer', expires_in: this.tokenLifetimeSeconds, ext_expires_in: this.tokenLifetimeSeconds, access_token: accessToken });
  }

  private authenticate(req: IncomingMessage): Token | undefined {
    const header = String(req.headers.authorization ?? '');
    const token = this.tokens.get(header.replace(/^Bearer /, ''));
    if (!token || token.expiresAt <= Date.now() || token.usesLeft <= 0) return undefined;
    token.usesLeft--;
    return token;
  }

  private delta(url: URL, kind: 'users' | 'groups', pageSize: number): Reply {
    const skip = url.searchParams.get('$skiptoken');
    const deltaToken = url.searchParams.get('$deltatoken');
    let round: Round | undefined;
    let key: string;
    const gone = (): Reply => graphError(410, 'syncStateNotFound', 'The sync state generation is invalid or has expired; a full synchronization is required.');
    if (skip !== null) {
      round = this.rounds.get(skip);
      if (!round || round.kind !== kind) return gone();
      this.rounds.delete(skip);
      key = skip;
    } else {
      let since: number | undefined;
      let select = selectOf(url);
      if (deltaToken !== null) {
        const parsed = parseDeltaToken(deltaToken);
        if (!parsed || parsed.epoch !== this.epoch || parsed.kind !== kind) return gone();
        since = parsed.seq;
        select = parsed.select;
      }
      const ids =
        kind === 'users'
          ? [...this.users.values()].filter((u) => (since === undefined ? !u.removed : u.lastSeq > since && !(u.removed && u.createdSeq > since))).map((u) => u.data.id)
          : [...this.groups.values()].filter((g) => (since === undefined ? !g.deleted : g.lastSeq > since && !(g.deleted && g.createdSeq > since))).flatMap((g) => this.groupEntries(g, since));
      round = { kind, ids, offset: 0, since, endSeq: this.seq, select, epoch: this.epoch };
      key = '';
    }
    const slice = round.ids.slice(round.offset, round.offset + pageSize);
    const value = kind === 'users' ? slice.map((id) => this.renderUserDelta(this.users.get(id)!, round)) : slice.map((entry) => this.renderGroupDelta(entry, round));
    round.offset += slice.length;
    const base = `${this.url}/v1.0/${kind}/delta`;
    const body: Record<string, unknown> = { '@odata.context': `${this.url}/v1.0/$metadata#${kind}`, value };
    if (round.offset < round.ids.length) {
      key = randomBytes(16).toString('base64url');
      this.rounds.set(key, round);
      body['@odata.nextLink'] = `${base}?$skiptoken=${key}`;
    } else {
      body['@odata.deltaLink'] = `${base}?$deltatoken=${deltaTokenOf(kind, round.epoch, round.endSeq, round.select)}`;
    }
    void key;
    return { status: 200, body };
  }

  private renderUser(entry: UserEntry, select: string[] | undefined, withManager = true): Record<string, unknown> {
    const out: Record<string, unknown> = { id: entry.data.id };
    for (const [k, v] of Object.entries(entry.data)) if (!select || select.includes(k)) out[k] = v;
    if (withManager && (!select || select.includes('manager')) && entry.manager) out['manager@delta'] = [{ '@odata.type': USER_TYPE, id: entry.manager }];
    return out;
  }

  private renderUserDelta(entry: UserEntry, round: Round): Record<string, unknown> {
    const since = round.since;
    if (since !== undefined && entry.removed) return { id: entry.data.id, '@removed': { reason: entry.removed } };
    if (since === undefined || entry.createdSeq > since) return this.renderUser(entry, round.select);
    // An update: the id and the properties changed since the token, as Graph may send it.
    const out: Record<string, unknown> = { id: entry.data.id };
    for (const [k, seq] of entry.changed) if (seq > since && (!round.select || round.select.includes(k))) out[k] = entry.data[k] ?? null;
    if (entry.managerSeq > since && (!round.select || round.select.includes('manager'))) {
      out['manager@delta'] = entry.manager ? [{ '@odata.type': USER_TYPE, id: entry.manager }] : [];
    }
    return out;
  }

  /**
   * The entries of one group in a round: in a first round its members split over several entries; later, one
   * entry with the members added and removed since the token. Encoded `groupId|part`.
   */
  private groupEntries(group: GroupEntry, since: number | undefined): string[] {
    if (since !== undefined) return [`${group.id}|0`];
    const parts = Math.max(1, Math.ceil(group.members.size / this.membersPerEntry));
    return Array.from({ length: parts }, (_, i) => `${group.id}|${i}`);
  }

  private renderGroupDelta(entry: string, round: Round): Record<string, unknown> {
    const [id, part] = entry.split('|') as [string, string];
    const group = this.groups.get(id)!;
    const since = round.since;
    if (since !== undefined && group.deleted) return { id, '@removed': { reason: 'deleted' } };
    const member = (memberId: string, type: 'user' | 'group') => ({ '@odata.type': type === 'user' ? USER_TYPE : GROUP_TYPE, id: memberId });
    const out: Record<string, unknown> = { id, displayName: group.displayName, description: group.description };
    if (since === undefined || group.createdSeq > since) {
      const all = [...group.members].slice(Number(part) * this.membersPerEntry, (Number(part) + 1) * this.membersPerEntry);
      out['members@delta'] = all.map(([m, type]) => member(m, type));
      return out;
    }
    const added = [...group.members].filter(([m]) => (group.memberSeq.get(m) ?? 0) > since).map(([m, type]) => member(m, type));
    const removed = [...group.removedMembers].filter(([, seq]) => seq > since).map(([m]) => ({ '@odata.type': USER_TYPE, id: m, '@removed': { reason: 'deleted' } }));
    if (added.length + removed.length > 0) out['members@delta'] = [...added, ...removed];
    return out;
  }

  private transitiveUsers(groupId: string, visited: Set<string>): Set<string> {
    const out = new Set<string>();
    if (visited.has(groupId)) return out;
    visited.add(groupId);
    const group = this.groups.get(groupId);
    if (!group || group.deleted) return out;
    for (const [id, type] of group.members) {
      if (type === 'user') {
        if (this.user(id)) out.add(id);
      } else for (const nested of this.transitiveUsers(id, visited)) out.add(nested);
    }
    return out;
  }

  private liveUser(id: string): UserEntry {
    const entry = this.users.get(id);
    if (!entry || entry.removed) throw new Error(`no live user ${id}`);
    return entry;
  }

  private liveGroup(id: string): GroupEntry {
    const group = this.groups.get(id);
    if (!group || group.deleted) throw new Error(`no group ${id}`);
    return group;
  }

  private dropMemberships(userId: string): void {
    for (const group of this.groups.values()) if (!group.deleted && group.members.has(userId)) this.removeMember(group.id, userId);
  }
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function graphError(status: number, code: string, message: string, headers: Record<string, string> = {}): Reply {
  return { status, headers, body: { error: { code, message, innerError: { 'request-id': randomUUID(), date: new Date().toISOString() } } } };
}

function selectOf(url: URL): string[] | undefined {
  const select = url.searchParams.get('$select');
  return select ? select.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

function deltaTokenOf(kind: string, epoch: number, seq: number, select: string[] | undefined): string {
  return Buffer.from(JSON.stringify({ kind, epoch, seq, select: select ?? null })).toString('base64url');
}

function parseDeltaToken(token: string): { kind: string; epoch: number; seq: number; select: string[] | undefined } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { kind: string; epoch: number; seq: number; select: string[] | null };
    return { kind: parsed.kind, epoch: parsed.epoch, seq: parsed.seq, select: parsed.select ?? undefined };
  } catch {
    return undefined;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A client assertion: a JWT signed with the certificate's key, for this client, not expired. */
function verifyAssertion(jwt: string, certificatePem: string, clientId: string): boolean {
  const parts = jwt.split('.');
  if (parts.length !== 3) return false;
  const [h, p, s] = parts as [string, string, string];
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: string };
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { iss?: string; sub?: string; exp?: number };
    if (payload.iss !== clientId || payload.sub !== clientId || !payload.exp || payload.exp * 1000 < Date.now()) return false;
    const key = createPublicKey(new X509Certificate(certificatePem).publicKey.export({ format: 'pem', type: 'spki' }));
    const data = Buffer.from(`${h}.${p}`);
    const signature = Buffer.from(s, 'base64url');
    if (header.alg === 'RS256') return verify('sha256', data, key, signature);
    if (header.alg === 'PS256') return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
    return false;
  } catch {
    return false;
  }
}
