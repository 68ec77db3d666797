import { HubDirectory, RegistryError, TEST_RESULTS_DEADLINE, type CheckpointKind, type ListCompliance, type OrganisationKind } from '../../sync/hub/directory.js';
import { parseWorkerList, WorkerListError } from '../../sync/hub/registry-upload.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import { localTimeIn } from '../../base/common/time.js';
import { CliError, readInputFile } from './errors.js';
import { existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { workerIdSchema } from '../../base/common/ids.js';
import { HUB_PIN_PATTERN, HUB_PIN_RULE, hashPinForHub } from '../core/supervisor/pin.js';
import { pinFromStdin } from './supervisor-commands.js';

/**
 * The hub's registry commands (`safegate hub org|site|checkpoint ...`, `safegate hub roster upload`):
 * each opens the directory, acts, and closes it; a refusal (an unknown organisation, a bad row) is
 * the operator's message, exit code 2.
 */
async function withRegistry<T>(configFile: string, act: (d: HubDirectory, zone: string) => Promise<T>): Promise<T> {
  const loaded = loadHubSettings(configFile);
  const directory = await HubDirectory.open(directoryTarget(loaded));
  try {
    return await act(directory, loaded.settings.time.zone);
  } catch (err) {
    if (err instanceof RegistryError || err instanceof WorkerListError) throw new CliError(err.message, 2);
    throw err;
  } finally {
    await directory.close();
  }
}

export async function addHubOrganisation(configFile: string, id: string, o: { name: string; kind: OrganisationKind }): Promise<string> {
  return withRegistry(configFile, async (d) => {
    await d.addOrganisation({ id, name: o.name, kind: o.kind });
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
export async function listHubOrganisations(configFile: string, nowMs = Date.now()): Promise<string> {
  return withRegistry(configFile, async (d, zone) => {
    const orgs = await d.organisations();
    if (orgs.length === 0) return 'no organisation yet (add one with `safegate hub org add`)';
    const standing = new Map((await d.listCompliance(nowMs, zone)).map((c) => [c.orgId, c]));
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

export async function addHubSite(configFile: string, id: string, o: { org: string; name?: string }): Promise<string> {
  return withRegistry(configFile, async (d) =>
    (await d.addSite({ id, orgId: o.org, ...(o.name !== undefined ? { name: o.name } : {}) })) === 'claimed'
      ? `site ${id} now belongs to ${o.org} (its devices stay in it)`
      : `site ${id} added to ${o.org}; put devices in it with \`safegate hub device assign --site ${id}\``,
  );
}

/** One site a line: id, organisation (or "-" for a site named before the registry), devices, checkpoints, name. */
export async function listHubSites(configFile: string, o: { org?: string }): Promise<string> {
  return withRegistry(configFile, async (d) => {
    const sites = await d.registeredSites(o.org);
    if (sites.length === 0) return o.org ? `${o.org} has no site yet` : 'no site yet (add one with `safegate hub site add`)';
    return sites.map((s) => `${s.id}\t${s.orgId ?? '-'}\t${s.devices} device(s)\t${s.checkpoints} checkpoint(s)\t${s.name}`).join('\n');
  });
}

export async function addHubCheckpoint(configFile: string, id: string, o: { site: string; kind: CheckpointKind; name?: string; org?: string[] }): Promise<string> {
  return withRegistry(configFile, async (d) => {
    await d.addCheckpoint({ id, siteId: o.site, kind: o.kind, ...(o.name !== undefined ? { name: o.name } : {}), ...(o.org ? { orgIds: o.org } : {}) });
    const added = (await d.checkpoints(o.site)).find((c) => c.id === id);
    return `checkpoint ${id} (${o.kind}) added at site ${o.site}, serving ${added?.orgIds.join(', ') ?? ''}`;
  });
}

/** `safegate hub checkpoint serve C --org A B`: the organisations a checkpoint serves (its kiosks' roster follows). */
export async function serveHubCheckpoint(configFile: string, checkpointId: string, orgIds: string[]): Promise<string> {
  return withRegistry(configFile, async (d) => {
    const r = await d.setCheckpointOrganisations(checkpointId, orgIds);
    if (r.added.length + r.removed.length === 0) return `checkpoint ${checkpointId} already serves ${orgIds.join(', ')}`;
    const change = [...(r.added.length ? [`now serves ${r.added.join(', ')}`] : []), ...(r.removed.length ? [`no longer serves ${r.removed.join(', ')}`] : [])].join('; ');
    return `checkpoint ${checkpointId} ${change}; its kiosks download their new roster at their next sync`;
  });
}

/** `safegate hub device assign --checkpoint`: devices at a checkpoint, in its site. */
export async function placeHubDevices(configFile: string, checkpointId: string, deviceIds: string[]): Promise<string> {
  return withRegistry(configFile, async (d) => {
    const changed = await d.placeDevices(checkpointId, deviceIds);
    const cp = (await d.checkpoints()).find((c) => c.id === checkpointId);
    return `${changed} device(s) placed at checkpoint ${checkpointId} in site ${cp?.siteId ?? ''} (${cp?.devices.length ?? 0} there in all); they share the live site stream from the next passage`;
  });
}

/** One checkpoint a line: id, kind, site, organisations served, devices (or "-"), name. */
export async function listHubCheckpoints(configFile: string, o: { site?: string }): Promise<string> {
  return withRegistry(configFile, async (d) => {
    const list = await d.checkpoints(o.site);
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
  return withRegistry(configFile, async (d) => {
    const r = await d.uploadWorkers(o.org, list, { nowMs, ...(o.site !== undefined ? { siteId: o.site } : {}) });
    return `${o.org}: ${r.workers} worker(s) on the list, ${r.changed} added or changed, ${r.removed} removed (roster revision ${r.rev}); kiosks download the changes`;
  });
}

// ---- shuttles ------------------------------------------------------------------------------------

/** `safegate hub vehicle add V --plate P --org A [--driver-worker W] [--driver-name N]`. */
export async function addHubVehicle(configFile: string, id: string, o: { plate: string; org: string[]; driverWorker?: string[]; driverName?: string[] }): Promise<string> {
  return withRegistry(configFile, async (d) => {
    await d.addVehicle({ id, plate: o.plate, orgIds: o.org, ...(o.driverWorker ? { driverWorkers: o.driverWorker } : {}), ...(o.driverName ? { driverNames: o.driverName } : {}) });
    const v = (await d.vehicles()).find((x) => x.id === id);
    return `vehicle ${id} (${v?.plate ?? o.plate}) added for ${o.org.join(', ')}${v?.drivers.length ? `, drivers ${v.drivers.join(', ')}` : ''}`;
  });
}

/** `safegate hub vehicle drivers V [--driver-worker W...] [--driver-name N...]`: the whole list (none: no drivers). */
export async function setHubVehicleDrivers(configFile: string, id: string, o: { driverWorker?: string[]; driverName?: string[] }): Promise<string> {
  return withRegistry(configFile, async (d) => {
    const r = await d.setVehicleDrivers(id, { ...(o.driverWorker ? { workers: o.driverWorker } : {}), ...(o.driverName ? { names: o.driverName } : {}) });
    return `vehicle ${id}: ${r.drivers} driver(s)`;
  });
}

/** One vehicle a line: id, plate, organisations, drivers (or "-"), routes (or "-"). */
export async function listHubVehicles(configFile: string): Promise<string> {
  return withRegistry(configFile, async (d) => {
    const list = await d.vehicles();
    if (list.length === 0) return 'no vehicle yet (add one with `safegate hub vehicle add`)';
    return list.map((v) => `${v.id}\t${v.plate}\t${v.orgIds.join(',')}\t${v.drivers.length ? v.drivers.join(',') : '-'}\t${v.routes.length ? v.routes.join(',') : '-'}`).join('\n');
  });
}

/** `safegate hub route add R --org A B [--vehicle V] [--name N]`. */
export async function addHubRoute(configFile: string, id: string, o: { org: string[]; vehicle?: string; name?: string }): Promise<string> {
  return withRegistry(configFile, async (d) => {
    await d.addRoute({ id, orgIds: o.org, ...(o.vehicle !== undefined ? { vehicleId: o.vehicle } : {}), ...(o.name !== undefined ? { name: o.name } : {}) });
    return `route ${id} added, serving ${o.org.join(', ')}; name its riders with \`safegate hub route riders --route ${id}\``;
  });
}

/** One route a line: id, organisations, vehicle (or "-"), riders, bus checkpoints (or "-"), name. */
export async function listHubRoutes(configFile: string): Promise<string> {
  return withRegistry(configFile, async (d) => {
    const list = await d.routes();
    if (list.length === 0) return 'no route yet (add one with `safegate hub route add`)';
    return list.map((r) => `${r.id}\t${r.orgIds.join(',')}\t${r.vehicleId ?? '-'}\t${r.riders} rider(s)\t${r.checkpoints.length ? r.checkpoints.join(',') : '-'}\t${r.name}`).join('\n');
  });
}

/**
 * `safegate hub route riders --route R FILE|ids...`: the route's riders from now on. A single
 * argument that is a file holds worker ids, one a line (the first column of a CSV; a header line
 * that is not a worker id is skipped).
 */
export async function setHubRouteRiders(configFile: string, routeId: string, args: string[]): Promise<string> {
  const ids = args.length === 1 && existsSync(args[0]!) ? riderIdsFromFile(args[0]!) : args;
  return withRegistry(configFile, async (d) => {
    const r = await d.setRouteRiders(routeId, ids);
    return `route ${routeId}: ${r.riders} rider(s), ${r.added} added, ${r.removed} removed; its bus kiosks download their new roster at their next sync`;
  });
}

function riderIdsFromFile(file: string): string[] {
  const lines = readInputFile(file).toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/);
  const ids = lines.map((l) => (l.split(/[,;\t]/)[0] ?? '').trim().replace(/^"(.*)"$/, '$1')).filter((l) => l !== '');
  const bad = ids.map((id, i) => ({ id, line: i + 1 })).filter((x) => !workerIdSchema.safeParse(x.id).success);
  // A header (the first line, not an id) is skipped; any other line that is not a worker id refuses the file.
  const problems = bad.filter((x) => x.line !== 1);
  if (problems.length) throw new CliError(`${file}: not a worker id: ${problems.slice(0, 10).map((x) => `line ${x.line} (${JSON.stringify(x.id)})`).join(', ')}`, 2);
  return ids.filter((_, i) => !(i === 0 && bad.some((x) => x.line === 1)));
}

/** `safegate hub checkpoint routes C --route R...`: a bus checkpoint rides these routes. */
export async function linkHubCheckpointRoutes(configFile: string, checkpointId: string, routeIds: string[]): Promise<string> {
  return withRegistry(configFile, async (d) => {
    await d.setCheckpointRoutes(checkpointId, routeIds);
    return `bus checkpoint ${checkpointId} rides ${routeIds.join(', ')}; its kiosks receive those routes' riders at their next sync`;
  });
}

// ---- hub supervisors -------------------------------------------------------------------------------

/** `safegate hub supervisor add --site S --name N` (PIN, 10 to 12 digits, the first line of stdin): stored as a scrypt hash only. */
export async function addHubSupervisor(configFile: string, o: { site: string; name: string }, stdinText: string): Promise<string> {
  const pin = pinFromStdin(stdinText);
  if (!HUB_PIN_PATTERN.test(pin)) throw new CliError(HUB_PIN_RULE, 2);
  const pinHash = await hashPinForHub(pin);
  return withRegistry(configFile, async (d) => {
    const id = await d.addSupervisor({ siteId: o.site, name: o.name, pinHash });
    return `hub supervisor ${id} (${o.name.trim()}) added to site ${o.site}; its kiosks take them at their next sync`;
  });
}

/** A new hub supervisor PIN: 12 random digits. */
export function randomHubPin(): string {
  return Array.from({ length: 12 }, () => String(randomInt(10))).join('');
}

/**
 * `safegate hub supervisor rotate --site S`: every hub supervisor of the site gets a new random PIN
 * (12 digits), printed once (id, name, PIN a line) for the operator to hand over; the site's kiosks
 * take the new hashes at their next download, and the old PINs stop working there. For a kiosk of the
 * site that was lost or stolen (its copy of the hashes can be guessed at offline).
 */
export async function rotateHubSupervisors(configFile: string, o: { site: string }): Promise<string> {
  const held = await withRegistry(configFile, async (d) => {
    if (!(await d.registeredSites()).some((s) => s.id === o.site)) throw new RegistryError(`no site ${o.site}`);
    return d.supervisors(o.site);
  });
  if (held.length === 0) return `site ${o.site} has no hub supervisor`;
  const fresh: { id: string; name: string; pin: string; pinHash: string }[] = [];
  for (const s of held) {
    const pin = randomHubPin();
    fresh.push({ id: s.id, name: s.name, pin, pinHash: await hashPinForHub(pin) });
  }
  await withRegistry(configFile, async (d) => {
    for (const f of fresh) await d.setSupervisorPin(f.id, f.pinHash);
  });
  return [
    `new PINs for the ${fresh.length} hub supervisor(s) of site ${o.site} (shown once; the site's kiosks take them at their next sync):`,
    ...fresh.map((f) => `${f.id}\t${f.name}\t${f.pin}`),
  ].join('\n');
}

/** `safegate hub supervisor remove ID`: every kiosk of their site drops them at its next sync. */
export async function removeHubSupervisor(configFile: string, id: string): Promise<string> {
  return withRegistry(configFile, async (d) => {
    await d.removeSupervisor(id);
    return `hub supervisor ${id} removed; the kiosks of their site drop them at their next sync`;
  });
}

/** One hub supervisor a line: id, site, name (never the PIN's hash). */
export async function listHubSupervisors(configFile: string, o: { site?: string }): Promise<string> {
  return withRegistry(configFile, async (d) => {
    const list = await d.supervisors(o.site);
    if (list.length === 0) return 'no hub supervisor yet (add one with `safegate hub supervisor add`)';
    return list.map((s) => `${s.id}\t${s.siteId}\t${s.name}`).join('\n');
  });
}
