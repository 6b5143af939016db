export * from './types.js';
export * from './errors.js';
export * from './config-schema.js';
export * from './http-client.js';
export * from './file-location.js';
export * from './file-transport.js';
export * from './csv-export.js';
export * from './file-connector.js';
export { hostKeyFingerprint } from './sftp-transport.js';
