import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { safegate } from '../../helpers/cli.js';
import { postgresBackend } from '../../helpers/directory-db.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';

async function eventCount(url: string): Promise<number> {
  const store = await PgHubStore.open(url);
  try {
    let n = 0;
    for await (const _ of store.events()) n++;
    return n;
  } finally {
    await store.close();
  }
}

/**
 * `hub backup` with DATABASE_URL takes a pg_dump of the hub's PostgreSQL database (no SQLite files),
 * and `hub restore` puts it into the database DATABASE_URL names with pg_restore: an empty one, or
 * with --force one that holds data already.
 */
describe('hub backup and restore on PostgreSQL (pg_dump, pg_restore)', () => {
  const dir = tempDir('safegate-hub-backup-pg-');
  afterAll(() => dir.remove());

  it('dumps the database into the archive and restores it into another database', async () => {
    const source = await postgresBackend.target();
    const target = await postgresBackend.target();
    if (source.kind !== 'postgres' || target.kind !== 'postgres') throw new Error('PostgreSQL targets expected');
    const config = join(dir.path, 'hub', 'hub.yaml');
    mkdirSync(join(dir.path, 'hub'));
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, console: { enabled: false } }));
    expect(safegate(['hub', 'org', 'add', 'may-a', '--name', 'Công ty May A', '--config', config], { env: { DATABASE_URL: source.url } }).status).toBe(0);
    const store = await PgHubStore.open(source.url);
    await store.ingest('kiosk-01', typicalEvents(12), Date.now());
    await store.close();
    const orgs = safegate(['hub', 'org', 'list', '--config', config], { env: { DATABASE_URL: source.url } }).stdout;
    expect(orgs).toContain('may-a');

    const archive = join(dir.path, 'hub-pg.tar.gz');
    const backup = safegate(['hub', 'backup', '--config', config, '--out', archive], { env: { DATABASE_URL: source.url } });
    expect(backup.stderr).toBe('');
    expect(backup.status).toBe(0);
    expect(backup.stdout).toMatch(/postgres \(\d+ bytes\)/);
    expect(backup.stdout).not.toMatch(/\b(store|directory|console) \(/);

    const restoredConfig = join(dir.path, 'elsewhere', 'hub.yaml');
    const noUrl = safegate(['hub', 'restore', '--config', restoredConfig, '--from', archive], { env: { DATABASE_URL: '' } });
    expect(noUrl.status).not.toBe(0);
    expect(noUrl.stderr).toMatch(/PostgreSQL dump: set DATABASE_URL/);
    const restore = safegate(['hub', 'restore', '--config', restoredConfig, '--from', archive], { env: { DATABASE_URL: target.url } });
    expect(restore.stderr).toBe('');
    expect(restore.status).toBe(0);
    expect(readFileSync(restoredConfig, 'utf8')).toBe(readFileSync(config, 'utf8'));
    expect(safegate(['hub', 'org', 'list', '--config', restoredConfig], { env: { DATABASE_URL: target.url } }).stdout).toBe(orgs);
    expect(await eventCount(target.url)).toBe(12);

    // Over a hub that is there already: refused without --force, replaced with it.
    const refused = safegate(['hub', 'restore', '--config', restoredConfig, '--from', archive], { env: { DATABASE_URL: target.url } });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/refusing to overwrite/);
    const again = safegate(['hub', 'restore', '--config', restoredConfig, '--from', archive, '--force'], { env: { DATABASE_URL: target.url } });
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    expect(await eventCount(target.url)).toBe(12);
  }, 120_000);
});
