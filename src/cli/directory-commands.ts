/**
 * `users list|get|create|update|delete` and `groups list|get|members`, over the Users and Groups resources of a
 * running server. Bad input is the server's to refuse: its 400 detail is printed as it is.
 */
import type { Command } from 'commander';
import type { CommandContext, Row } from './cli-io.js';
import { assignments, patchOperations, placeInto, type SetOptions, setOptions } from './set-values.js';
import { attributeRows } from './table.js';

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface ListOptions {
  filter?: string;
  attributes?: string;
  sortBy?: string;
  count: string;
  startIndex: string;
  account?: string;
  json?: boolean;
}

const listOptions = (command: Command, example: string) =>
  command
    .option('--filter <filter>', `a SCIM filter, e.g. '${example}'`)
    .option('--attributes <names>', 'only these attributes, comma-separated (also the table\'s columns)')
    .option('--sort-by <attribute>', 'sort by this attribute')
    .option('--count <n>', 'most shown', '100')
    .option('--start-index <n>', 'first shown (1-based)', '1')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print the ListResponse as JSON');

const byId = (endpoint: string, id: string) => `${endpoint}/${encodeURIComponent(id)}`;

export function registerDirectoryCommands(program: Command, users: Command, { client, print, io }: CommandContext): void {
  /** A list: the table over the asked attributes (or `columns`), and on stderr how many there are when not all are shown. */
  async function list(endpoint: string, opts: ListOptions, columns: string[]): Promise<void> {
    const api = client();
    const query = new URLSearchParams({
      count: opts.count, startIndex: opts.startIndex,
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(opts.attributes ? { attributes: opts.attributes } : {}),
      ...(opts.sortBy ? { sortBy: opts.sortBy } : {}),
    });
    const page = await api.request<{ totalResults: number; Resources: Row[] }>('GET', `${api.base(opts.account)}${endpoint}?${query}`);
    if (opts.json) return print(true, page);
    const asked = opts.attributes?.split(',').map((a) => a.trim()).filter(Boolean);
    print(false, page.Resources, asked ? ['id', ...asked.filter((a) => a !== 'id')] : columns);
    if (page.totalResults > page.Resources.length) io.err(`${page.Resources.length} of ${page.totalResults} shown; see more with --start-index or --count`);
  }

  async function show(endpoint: string, id: string, opts: { attributes?: string; account?: string; json?: boolean }, excluded?: string): Promise<void> {
    const api = client();
    const params: Record<string, string> | undefined = opts.attributes ? { attributes: opts.attributes } : excluded ? { excludedAttributes: excluded } : undefined;
    const query = params ? `?${new URLSearchParams(params)}` : '';
    const resource = await api.request<Row>('GET', `${api.base(opts.account)}${byId(endpoint, id)}${query}`);
    print(!!opts.json, opts.json ? resource : attributeRows(resource), ['attribute', 'value']);
  }

  listOptions(users.command('list').description('list users, as a table (id, userName, name, active) or JSON'), 'title eq "Engineer"')
    .action((opts: ListOptions) => list('/Users', opts, ['id', 'userName', 'name.givenName', 'name.familyName', 'active']));
  users
    .command('get')
    .description('show one user, attribute by attribute')
    .argument('<userId>', 'user id')
    .option('--attributes <names>', 'only these attributes, comma-separated')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action((userId: string, opts: { attributes?: string; account?: string; json?: boolean }) => show('/Users', userId, opts));
  users
    .command('create')
    .description('create a user (an admin\'s Add User: the new user gets the welcome email)')
    .requiredOption('--email <email>', 'work email, also the userName unless --user-name is given')
    .requiredOption('--given-name <name>', 'first name')
    .requiredOption('--family-name <name>', 'last name')
    .option('--user-name <userName>', 'userName (default: the email)')
    .option(...setOptions.set)
    .option(...setOptions.setJson)
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: SetOptions & { email: string; givenName: string; familyName: string; userName?: string; account?: string; json?: boolean }) => {
      const user: Row = {
        schemas: [CORE_USER],
        userName: opts.userName ?? opts.email,
        name: { givenName: opts.givenName, familyName: opts.familyName },
        emails: [{ value: opts.email, type: 'work', primary: true }],
      };
      for (const [path, value] of assignments(opts)) placeInto(user, path, value);
      const api = client();
      const created = await api.request<Row>('POST', `${api.base(opts.account)}/Users`, user);
      print(!!opts.json, opts.json ? created : attributeRows(created), ['attribute', 'value']);
    });
  users
    .command('update')
    .description('change attributes of a user (PATCH), e.g. --set title=Engineer --set active=false')
    .argument('<userId>', 'user id')
    .option(...setOptions.set)
    .option(...setOptions.setJson)
    .option(...setOptions.remove)
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (userId: string, opts: SetOptions & { account?: string; json?: boolean }) => {
      const operations = patchOperations(opts);
      if (operations.length === 0) throw new Error('nothing to change: give --set, --set-json or --remove');
      const api = client();
      const updated = await api.request<Row>('PATCH', `${api.base(opts.account)}${byId('/Users', userId)}`, { schemas: [PATCH_OP], Operations: operations });
      print(!!opts.json, opts.json ? updated : attributeRows(updated), ['attribute', 'value']);
    });
  users
    .command('delete')
    .description('delete a user')
    .argument('<userId>', 'user id')
    .option('--account <accountId>', 'account (default: your own)')
    .action(async (userId: string, opts: { account?: string }) => {
      const api = client();
      await api.request('DELETE', `${api.base(opts.account)}${byId('/Users', userId)}`);
      io.out(`deleted user ${userId}`);
    });

  const groups = program.command('groups').description('groups of users (pushed by an identity provider or read from a directory)');
  listOptions(groups.command('list').description('list groups, as a table (id, displayName) or JSON'), 'displayName sw "Sales"')
    .action((opts: ListOptions) => list('/Groups', { ...opts, attributes: opts.attributes ?? (opts.json ? undefined : 'displayName,externalId') }, ['id', 'displayName', 'externalId']));
  groups
    .command('get')
    .description('show one group, attribute by attribute (members: see groups members)')
    .argument('<groupId>', 'group id')
    .option('--attributes <names>', 'only these attributes, comma-separated')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action((groupId: string, opts: { attributes?: string; account?: string; json?: boolean }) => show('/Groups', groupId, opts, 'members'));
  groups
    .command('members')
    .description('list the members of a group')
    .argument('<groupId>', 'group id')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (groupId: string, opts: { account?: string; json?: boolean }) => {
      const api = client();
      const group = await api.request<{ members?: Row[] }>('GET', `${api.base(opts.account)}${byId('/Groups', groupId)}?attributes=members`);
      const members = group.members ?? [];
      print(!!opts.json, members, ['value', 'display', 'type']);
    });
}
