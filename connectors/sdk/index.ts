export * from './types.js';
export * from './errors.js';
export * from './config-schema.js';
export * from './http-client.js';
export * from './guid.js';
export * from './phone.js';
