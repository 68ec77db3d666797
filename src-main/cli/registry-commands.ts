import { HubDirectory, RegistryError, TEST_RESULTS_DEADLINE, type CheckpointKind, type ListCompliance, type OrganisationKind } from '../../sync/hub/directory.js';
import { parseWorkerList, WorkerListError } from '../../sync/hub/registry-upload.js';
import { loadHubSettings } from '../../sync/hub/settings.js';
import { localTimeIn } from '../../base/common/time.js';
import { CliError, readInputFile } from './errors.js';

/**
 * The hub's registry commands (`safegate hub org|site|checkpoint ...`, `safegate hub roster upload`):
 * each opens the directory, acts, and closes it; a refusal (an unknown organisation, a bad row) is
 * the operator's message, exit code 2.
 */
function withRegistry<T>(configFile: string, act: (d: HubDirectory, zone: string) => T): T {
  const loaded = loadHubSettings(configFile);
  const directory = new HubDirectory(loaded.directoryPath);
  try {
    return act(directory, loaded.settings.time.zone);
  } catch (err) {
    if (err instanceof RegistryError || err instanceof WorkerListError) throw new CliError(err.message, 2);
    throw err;
  } finally {
    directory.close();
  }
}

export function addHubOrganisation(configFile: string, id: string, o: { name: string; kind: OrganisationKind }): string {
  return withRegistry(configFile, (d) => {
    d.addOrganisation({ id, name: o.name, kind: o.kind });
    return `organisation ${id} added (${o.kind}); add its sites with \`safegate hub site add --org ${id}\``;
  });
}

const TODAYS_LIST: Record<ListCompliance['todaysList'], string> = {
  'before-deadline': `today's list in before ${TEST_RESULTS_DEADLINE}`,
  'not-yet': `today's list not in yet (due by ${TEST_RESULTS_DEADLINE})`,
  late: `today's list came after ${TEST_RESULTS_DEADLINE}`,
  missing: `no list today (due by ${TEST_RESULTS_DEADLINE})`,
};

/**
 * One organisation a line: id, kind, sites, workers, when its list was last uploaded, today's list
 * against the 15:00 deadline, its CV 2242 standing (out of compliance: no list, or one older than 3 days), name.
 */
export function listHubOrganisations(configFile: string, nowMs = Date.now()): string {
  return withRegistry(configFile, (d, zone) => {
    const orgs = d.organisations();
    if (orgs.length === 0) return 'no organisation yet (add one with `safegate hub org add`)';
    const standing = new Map(d.listCompliance(nowMs, zone).map((c) => [c.orgId, c]));
    return orgs
      .map((o) => {
        const c = standing.get(o.id);
        const list = o.listUploadedAtMs === null ? 'no list uploaded' : `list uploaded ${localTimeIn(o.listUploadedAtMs, zone)} (${ageText(nowMs - o.listUploadedAtMs)} ago)`;
        const verdict = !c?.outOfCompliance ? 'compliant' : c.listAgeMs === null ? 'OUT OF COMPLIANCE: no list' : 'OUT OF COMPLIANCE: list older than 3 days';
        return `${o.id}\t${o.kind}\t${o.sites} site(s)\t${o.workers} worker(s)\t${list}\t${c ? TODAYS_LIST[c.todaysList] : ''}\t${verdict}\t${o.name}`;
      })
      .join('\n');
  });
}

function ageText(ms: number): string {
  const hours = Math.max(0, Math.floor(ms / 3_600_000));
  return hours < 48 ? `${hours} h` : `${Math.floor(hours / 24)} days`;
}

export function addHubSite(configFile: string, id: string, o: { org: string; name?: string }): string {
  return withRegistry(configFile, (d) =>
    d.addSite({ id, orgId: o.org, ...(o.name !== undefined ? { name: o.name } : {}) }) === 'claimed'
      ? `site ${id} now belongs to ${o.org} (its devices stay in it)`
      : `site ${id} added to ${o.org}; put devices in it with \`safegate hub device assign --site ${id}\``,
  );
}

/** One site a line: id, organisation (or "-" for a site named before the registry), devices, checkpoints, name. */
export function listHubSites(configFile: string, o: { org?: string }): string {
  return withRegistry(configFile, (d) => {
    const sites = d.registeredSites(o.org);
    if (sites.length === 0) return o.org ? `${o.org} has no site yet` : 'no site yet (add one with `safegate hub site add`)';
    return sites.map((s) => `${s.id}\t${s.orgId ?? '-'}\t${s.devices} device(s)\t${s.checkpoints} checkpoint(s)\t${s.name}`).join('\n');
  });
}

export function addHubCheckpoint(configFile: string, id: string, o: { site: string; kind: CheckpointKind; name?: string; org?: string[] }): string {
  return withRegistry(configFile, (d) => {
    d.addCheckpoint({ id, siteId: o.site, kind: o.kind, ...(o.name !== undefined ? { name: o.name } : {}), ...(o.org ? { orgIds: o.org } : {}) });
    const added = d.checkpoints(o.site).find((c) => c.id === id);
    return `checkpoint ${id} (${o.kind}) added at site ${o.site}, serving ${added?.orgIds.join(', ') ?? ''}`;
  });
}

/** `safegate hub checkpoint serve C --org A B`: the organisations a checkpoint serves (its kiosks' roster follows). */
export function serveHubCheckpoint(configFile: string, checkpointId: string, orgIds: string[]): string {
  return withRegistry(configFile, (d) => {
    const r = d.setCheckpointOrganisations(checkpointId, orgIds);
    if (r.added.length + r.removed.length === 0) return `checkpoint ${checkpointId} already serves ${orgIds.join(', ')}`;
    const change = [...(r.added.length ? [`now serves ${r.added.join(', ')}`] : []), ...(r.removed.length ? [`no longer serves ${r.removed.join(', ')}`] : [])].join('; ');
    return `checkpoint ${checkpointId} ${change}; its kiosks download their new roster at their next sync`;
  });
}

/** `safegate hub device assign --checkpoint`: devices at a checkpoint, in its site. */
export function placeHubDevices(configFile: string, checkpointId: string, deviceIds: string[]): string {
  return withRegistry(configFile, (d) => {
    const changed = d.placeDevices(checkpointId, deviceIds);
    const cp = d.checkpoints().find((c) => c.id === checkpointId);
    return `${changed} device(s) placed at checkpoint ${checkpointId} in site ${cp?.siteId ?? ''} (${cp?.devices.length ?? 0} there in all); they share the live site stream from the next passage`;
  });
}

/** One checkpoint a line: id, kind, site, organisations served, devices (or "-"), name. */
export function listHubCheckpoints(configFile: string, o: { site?: string }): string {
  return withRegistry(configFile, (d) => {
    const list = d.checkpoints(o.site);
    if (list.length === 0) return 'no checkpoint yet (add one with `safegate hub checkpoint add`)';
    return list.map((c) => `${c.id}\t${c.kind}\t${c.siteId}\t${c.orgIds.join(',')}\t${c.devices.length ? c.devices.join(',') : '-'}\t${c.name}`).join('\n');
  });
}

/** `safegate hub roster upload --org ORG FILE`: that organisation's CV 2242 list replaces its workers (all rows or none). */
export async function uploadHubWorkerList(configFile: string, file: string, o: { org: string; site?: string }, nowMs = Date.now()): Promise<string> {
  const content = readInputFile(file);
  const { zone } = loadHubSettings(configFile).settings.time;
  let list;
  try {
    list = await parseWorkerList(content, zone, nowMs);
  } catch (err) {
    if (err instanceof WorkerListError) throw new CliError(`${file}: ${err.message}`, 2);
    throw err;
  }
  return withRegistry(configFile, (d) => {
    const r = d.uploadWorkers(o.org, list, { nowMs, ...(o.site !== undefined ? { siteId: o.site } : {}) });
    return `${o.org}: ${r.workers} worker(s) on the list, ${r.changed} added or changed, ${r.removed} removed (roster revision ${r.rev}); kiosks download the changes`;
  });
}
