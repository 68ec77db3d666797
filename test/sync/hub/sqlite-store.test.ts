import { join } from 'node:path';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { tempDir } from '../../helpers/fixtures.js';
import { hubStoreContract } from './store.contract.js';

hubStoreContract('SQLite', async () => {
  const dir = tempDir('safegate-hubstore-');
  return { store: new SqliteHubStore(join(dir.path, 'hub.db')), dispose: async () => dir.remove() };
});
