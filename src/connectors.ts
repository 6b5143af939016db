/**
 * The connector registry: every source kind the server runs, kind → connector. A new connector is one line here
 * (its kind as the key); the composition root (deps.ts) hands the registry to the sources service, the sync engine
 * and the scheduler, and tests pass their own through `createDeps(config, { connectors })`.
 */
import { entraConnector } from '../connectors/entra/index.js';
import { ldapConnector } from '../connectors/ldap/index.js';
import { micloudConnector } from '../connectors/micloud/index.js';
import { mivbConnector } from '../connectors/mivb/index.js';
import type { Connector } from '../connectors/sdk/index.js';

export type ConnectorRegistry = ReadonlyMap<string, Connector>;

export function connectorRegistry(): ConnectorRegistry {
  return new Map<string, Connector>([
    ['ldap', ldapConnector as Connector],
    ['entra', entraConnector as Connector],
    ['mivb', mivbConnector as Connector],
    ['micloud', micloudConnector as Connector],
  ]);
}
