import { dropTestDatabases } from './test-database.js';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await dropTestDatabases();
  },
};
