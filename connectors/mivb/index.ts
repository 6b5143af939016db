/**
 * MiVoice Business connector (kind `mivb`): the MiCollab / MiVB users export read from SFTP, HTTPS or a local
 * folder (connectors/sdk file layer), mapped row by row (mivb-mapper), the seed's username written back as a
 * MiCollab bulk-provisioning file.
 */
import { createFileConnector, type Connector } from '../sdk/index.js';
import { MIVB_COLUMNS, MIVB_REQUIRED, mivbConfigSchema, parseMivbConfig, type MivbConfig } from './config.js';
import { directoryNumberKey, mapMivbRow, provisioningFile, type MivbRow } from './mivb-mapper.js';

export type { MivbConfig } from './config.js';
export { parseMivbConfig, mivbConfigSchema, MIVB_COLUMNS } from './config.js';
export { mapMivbRow, mivbAnchor, provisioningFile, PROVISIONING_COLUMNS } from './mivb-mapper.js';

export const mivbConnector: Connector<MivbConfig> = createFileConnector<MivbConfig>({
  kind: 'mivb',
  configSchema: mivbConfigSchema,
  parseConfig: parseMivbConfig,
  columns: (config) => ({ known: MIVB_COLUMNS, required: MIVB_REQUIRED, renamed: config.columnMap }),
  mapRow: (values) => mapMivbRow(values as MivbRow),
  uniqueKey: (values, config) => directoryNumberKey(values as MivbRow, config.clusterId),
  writeBack: (config, message) =>
    config.writeBack && { location: config.writeBack.location, timeoutMs: config.writeBack.timeoutMs, file: provisioningFile(message, config.writeBack.role) },
});
