/**
 * `accounts create|list|get|update`, `subscriptions set` and `tokens create|list|revoke`, over the Accounts and
 * Tokens resources of a running server.
 */
import type { Command } from 'commander';
import { URN } from '../domain/scim-schemas.js';
import type { CommandContext, Row } from './cli-io.js';
import { patchOperations, type SetOptions, setOptions } from './set-values.js';
import { attributeRows } from './table.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export function registerAccountCommands(program: Command, { client, print, io }: CommandContext): void {
  const accounts = program.command('accounts').description('partner and customer accounts, their settings and subscriptions');
  accounts
    .command('create')
    .description('create a partner or customer account under yours (or under --parent)')
    .requiredOption('--name <name>', 'account name')
    .requiredOption('--type <type>', 'partner or customer')
    .option('--parent <accountId>', 'owning account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; type: string; parent?: string; json?: boolean }) => {
      const created = await client().request('POST', '/scim/v2/Accounts', {
        schemas: [URN.account],
        name: opts.name,
        type: opts.type,
        ...(opts.parent ? { parentId: opts.parent } : {}),
      });
      print(!!opts.json, created, ['id', 'name', 'type', 'parentId']);
    });
  accounts
    .command('list')
    .description('list the accounts you can see')
    .option('--filter <filter>', 'SCIM filter, e.g. type eq "customer"')
    .option('--json', 'print JSON')
    .action(async (opts: { filter?: string; json?: boolean }) => {
      const query = new URLSearchParams({ count: '1000', ...(opts.filter ? { filter: opts.filter } : {}) });
      const list = await client().request<{ Resources: Row[] }>('GET', `/scim/v2/Accounts?${query}`);
      print(!!opts.json, opts.json ? list : list.Resources, ['id', 'name', 'type', 'parentId', 'userCount']);
    });
  accounts
    .command('get')
    .description('show an account: its settings (integrations, SMS pool) and subscriptions with seats in use')
    .argument('<accountId>', 'account id')
    .option('--json', 'print JSON')
    .action(async (accountId: string, opts: { json?: boolean }) => {
      const account = await client().request<Row>('GET', `/scim/v2/Accounts/${encodeURIComponent(accountId)}`);
      if (opts.json) print(true, account);
      else {
        const { subscriptions, ...rest } = account;
        print(false, attributeRows(rest), ['attribute', 'value']);
        io.out('');
        print(false, (subscriptions as Row[] | undefined) ?? [], ['product', 'seats', 'assigned', 'available']);
      }
    });
  accounts
    .command('update')
    .description('change an account\'s name or settings, e.g. --set settings.sso=true, --set-json \'settings.twilio={"enabled":true}\'')
    .argument('<accountId>', 'account id')
    .option('--name <name>', 'new name')
    .option(...setOptions.set)
    .option(...setOptions.setJson)
    .option(...setOptions.remove)
    .option('--json', 'print JSON')
    .action(async (accountId: string, opts: SetOptions & { name?: string; json?: boolean }) => {
      const operations = [...(opts.name !== undefined ? [{ op: 'replace', path: 'name', value: opts.name }] : []), ...patchOperations(opts)];
      if (operations.length === 0) throw new Error('nothing to change: give --name, --set, --set-json or --remove');
      const updated = await client().request<Row>('PATCH', `/scim/v2/Accounts/${encodeURIComponent(accountId)}`, { schemas: [PATCH_OP], Operations: operations });
      print(!!opts.json, opts.json ? updated : attributeRows(updated), ['attribute', 'value']);
    });

  program
    .command('subscriptions')
    .description('products an account is subscribed to, with their seats')
    .command('set')
    .description('set the subscriptions of an account: every product with its seats (products not named are removed)')
    .argument('<product=seats...>', 'e.g. "MiTeam Meetings=25" MiCollab=10')
    .requiredOption('--account <accountId>', 'the account subscribed')
    .option('--json', 'print JSON')
    .action(async (pairs: string[], opts: { account: string; json?: boolean }) => {
      const subscriptions = pairs.map((pair) => {
        const at = pair.lastIndexOf('=');
        const seats = Number(pair.slice(at + 1));
        if (at <= 0 || pair.slice(at + 1).trim() === '' || !Number.isInteger(seats)) throw new Error(`each subscription is PRODUCT=SEATS (a whole number), got "${pair}"`);
        return { product: pair.slice(0, at), seats };
      });
      const updated = await client().request<Row>('PATCH', `/scim/v2/Accounts/${encodeURIComponent(opts.account)}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'replace', path: 'subscriptions', value: subscriptions }],
      });
      print(!!opts.json, opts.json ? updated : ((updated.subscriptions as Row[] | undefined) ?? []), ['product', 'seats', 'assigned', 'available']);
    });

  const tokens = program.command('tokens').description('API bearer tokens');
  tokens
    .command('create')
    .description('create a token; its secret is shown once')
    .requiredOption('--role <role>', 'operator, partner-admin, account-admin, provisioning or user')
    .option('--account <accountId>', 'account the token belongs to (default: your own)')
    .option('--description <text>', 'what the token is for')
    .option('--user-id <userId>', 'for role user: the user it acts as')
    .option('--expires-at <dateTime>', 'RFC 3339 expiry')
    .option('--json', 'print JSON')
    .action(async (opts: { role: string; account?: string; description?: string; userId?: string; expiresAt?: string; json?: boolean }) => {
      const api = client();
      const created = await api.request('POST', `${api.base(opts.account)}/Tokens`, {
        schemas: [URN.token],
        role: opts.role,
        ...(opts.description ? { description: opts.description } : {}),
        ...(opts.userId ? { userId: opts.userId } : {}),
        ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
      });
      if (opts.json) print(true, created);
      else {
        print(false, created, ['id', 'role', 'description', 'expiresAt']);
        io.out(`\nSecret (shown once, store it now): ${String(created.token)}`);
      }
    });
  tokens
    .command('list')
    .description('list the tokens of an account (never their secrets)')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: { account?: string; json?: boolean }) => {
      const api = client();
      const list = await api.request<{ Resources: Row[] }>('GET', `${api.base(opts.account)}/Tokens?count=1000`);
      print(!!opts.json, opts.json ? list : list.Resources, ['id', 'role', 'description', 'expiresAt', 'lastUsedAt', 'revokedAt']);
    });
  tokens
    .command('revoke')
    .description('revoke a token: it is refused from now on')
    .argument('<tokenId>', 'token id')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (tokenId: string, opts: { account?: string; json?: boolean }) => {
      const api = client();
      await api.request('DELETE', `${api.base(opts.account)}/Tokens/${encodeURIComponent(tokenId)}`);
      print(!!opts.json, { id: tokenId, revoked: true }, ['id', 'revoked']);
    });
}
