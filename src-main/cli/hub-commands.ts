import { Hub } from '../../sync/hub/hub.js';
import { loadHubSettings } from '../../sync/hub/settings.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { createLogger } from '../core/logger.js';
import { parseIsoTime } from './errors.js';

/** `safegate hub run`: the reference hub until SIGINT/SIGTERM. */
export async function runHub(configFile: string): Promise<void> {
  const loaded = loadHubSettings(configFile);
  const log = createLogger({ level: loaded.settings.log.level }).child({ ns: 'hub' });
  const store = new SqliteHubStore(loaded.storePath);
  const hub = new Hub(
    { broker: loaded.broker, clientId: loaded.settings.id, sharedSubscription: loaded.settings.sharedSubscription },
    store,
    log,
  );
  hub.on('ingested', (deviceId, r) =>
    log.info({ deviceId, batchId: r.batchId, inserted: r.inserted, duplicates: r.duplicates, contiguousSeq: r.contiguousSeq, gaps: r.gaps.length }, 'batch stored'),
  );
  await hub.start();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await hub.stop();
  await store.close();
}

/** `safegate hub events`: what the hub has ingested, as JSON lines. */
export async function printHubEvents(configFile: string, options: { device?: string; since?: string }): Promise<void> {
  const loaded = loadHubSettings(configFile);
  const store = new SqliteHubStore(loaded.storePath);
  try {
    const filter = { deviceId: options.device, sinceMs: options.since ? parseIsoTime(options.since, '--since').getTime() : 0 };
    for await (const e of store.events(filter)) process.stdout.write(`${JSON.stringify(e)}\n`);
  } finally {
    await store.close();
  }
}
