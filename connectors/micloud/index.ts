/**
 * MiCloud Connect connector (kind `micloud`): the Account Portal users export (or the import-template shape)
 * read from SFTP, HTTPS or a local folder (connectors/sdk file layer), mapped row by row (micloud-mapper).
 */
import { createFileConnector, type Connector } from '../sdk/index.js';
import { MICLOUD_COLUMNS, MICLOUD_ONE_OF, micloudConfigSchema, parseMicloudConfig, type MicloudConfig } from './config.js';
import { mapMicloudRow, type MicloudRow } from './micloud-mapper.js';

export type { MicloudConfig } from './config.js';
export { parseMicloudConfig, micloudConfigSchema, MICLOUD_COLUMNS } from './config.js';
export { mapMicloudRow, splitContactName, micloudAnchor } from './micloud-mapper.js';

export const micloudConnector: Connector<MicloudConfig> = createFileConnector<MicloudConfig>({
  kind: 'micloud',
  configSchema: micloudConfigSchema,
  parseConfig: parseMicloudConfig,
  columns: (config) => ({ known: MICLOUD_COLUMNS, required: [], oneOf: MICLOUD_ONE_OF, renamed: config.columnMap }),
  mapRow: (values, _line, config) => mapMicloudRow(values as MicloudRow, config.defaultCountry),
});
