import { afterAll, beforeAll } from 'vitest';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { tempDir } from '../../helpers/fixtures.js';
import { TestPostgres } from '../../helpers/postgres.js';
import { hubStoreContract } from './store.contract.js';

const dir = tempDir('safegate-pg-');
const server = new TestPostgres(dir.path);
let n = 0;

beforeAll(async () => {
  await server.start();
}, 60_000);
afterAll(async () => {
  await server.stop();
  dir.remove();
});

hubStoreContract('PostgreSQL', async () => {
  const url = await server.createDatabase(`hub_contract_${++n}`);
  return { store: await PgHubStore.open(url), dispose: async () => {} };
});
