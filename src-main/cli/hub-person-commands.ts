import { appendFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { HubDirectory } from '../../sync/hub/directory.js';
import { PassRegistry } from '../../sync/hub/passes.js';
import { erasePerson, exportPerson, PersonDataError, type PersonAuditLine, type PersonDataSources } from '../../sync/hub/person-data.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import type { HubStore } from '../../sync/hub/store.js';
import { CliError } from './errors.js';

/**
 * `safegate hub person export|erase --worker W`: Decree 13 access and erasure requests from the
 * shell. Each writes one audit line, naming no one, to `person-requests.log` beside the hub
 * directory (JSON lines, 0600); the request id it prints goes on the person's request form.
 */
async function withPersonData<T>(configFile: string, act: (sources: PersonDataSources, auditFile: string) => Promise<T>): Promise<T> {
  const loaded = loadHubSettings(configFile);
  const url = process.env.DATABASE_URL;
  // The hub store as `safegate hub run` opens it: PostgreSQL when DATABASE_URL is set, else the SQLite file.
  const store: HubStore = url ? await (await import('../../sync/hub/pg-store.js')).PgHubStore.open(url) : new (await import('../../sync/hub/store.js')).SqliteHubStore(loaded.storePath);
  const directory = await HubDirectory.open(directoryTarget(loaded));
  const passes = new PassRegistry({ sql: directory.sql });
  const auditFile = join(dirname(loaded.directoryPath), 'person-requests.log');
  const audit = (line: PersonAuditLine): void => appendFileSync(auditFile, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  try {
    return await act({ directory, passes, store, audit }, auditFile);
  } catch (err) {
    if (err instanceof PersonDataError) throw new CliError(err.message, 2);
    throw err;
  } finally {
    await directory.close();
    await store.close();
  }
}

const shellUser = (): string => `shell:${userInfo().username}`;

/** `safegate hub person export --worker W [--out FILE]`: everything the hub holds about one person, one JSON document. */
export async function exportHubPerson(configFile: string, o: { worker: string; out?: string }): Promise<string> {
  return withPersonData(configFile, async (sources, auditFile) => {
    const doc = await exportPerson(sources, o.worker, shellUser());
    const json = `${JSON.stringify(doc, null, 2)}\n`;
    if (o.out === undefined) return json.trimEnd();
    try {
      // It holds the ID number, phone and residence: readable by this user only.
      writeFileSync(o.out, json, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      throw new CliError(`cannot write ${o.out} (${(err as NodeJS.ErrnoException).code ?? String(err)}; an existing file is never overwritten)`);
    }
    return `${o.out}: ${doc.passes.length} pass(es), ${doc.events.length} event(s), ${doc.alerts.length} alert(s); request ${doc.requestId} (audit line in ${auditFile})`;
  });
}

/** `safegate hub person erase --worker W [--force]`: removes one person everywhere on the hub. */
export async function eraseHubPerson(configFile: string, o: { worker: string; force?: boolean }): Promise<string> {
  return withPersonData(configFile, async (sources, auditFile) => {
    const r = await erasePerson(sources, o.worker, shellUser(), { force: Boolean(o.force) });
    return [
      `${o.worker} erased from the hub: request ${r.requestId} (audit line in ${auditFile})`,
      `  roster: ${r.rosterRemoved ? 'removed (kiosks drop them at their next download)' : 'was not on it'}; organisation list row: ${r.listRowDeleted ? 'deleted' : 'none'}`,
      `  passes: ${r.passesRevoked} revoked, ${r.passRecordsDeleted} record(s) deleted (their ids stay on the revocations stream); ${r.phoneLinksDeleted} phone link(s) deleted`,
      `  hub store: ${r.eventsAnonymised} event(s) anonymised (time, place and decision kept), ${r.alertsDeleted} alert(s) deleted`,
    ].join('\n');
  });
}
