import type { Command } from 'commander';
import { CliError } from './cli-error.js';

/**
 * `safegate hub devices [--json] [--silent-after 10m]`: every device the hub knows, with what its
 * last heartbeat said; `safegate hub devices revoke ID`: cut a (stolen) kiosk off. The hub's modules
 * load only when a command runs.
 */
export function registerDevicesCommands(hub: Command): void {
  const devices = hub
    .command('devices')
    .description('every device the hub knows (enrolled, placed or heard from): checkpoint, version, last heartbeat, outbox, data ages, certificate, settings; silent ones marked')
    .option('--json', 'one JSON object per device per line')
    .option('--silent-after <duration>', 'mark devices not heard from for this long as silent, e.g. 90s, 10m, 2h, 1d (default: fleet.silentAfterMinutes of the settings)')
    .option('--config <file>', 'hub settings file (required)')
    .action(async (o: { config?: string; json?: boolean; silentAfter?: string }) => console.log(await listFleetDevices(requireConfig(o.config), o)));
  devices
    .command('revoke')
    .description("cut a device off: at once at the broker (its session closed, every topic denied), its certificate on the CRL (refused at TLS once the broker re-reads it: systemctl reload mosquitto), and the hub refuses whatever still arrives from it")
    .argument('<device>', 'the device id (its certificate CN)')
    .option('--json', 'the steps as one JSON object')
    .option('--wait <duration>', 'how long to wait for a running hub process to confirm the broker cut-off before this command signs in to the broker itself, e.g. 15s', '15s')
    .option('--config <file>', 'hub settings file (required)')
    .action(async (id: string, o: { config?: string; json?: boolean; wait: string }, cmd: Command) => {
      // `devices` has the same options: commander gives them to it wherever they stand on the line.
      const parent = cmd.parent?.opts<{ config?: string; json?: boolean }>();
      const r = await revokeFleetDevice(requireConfig(o.config ?? parent?.config), id, { waitMs: parseDurationMs(o.wait, '--wait') });
      console.log((o.json ?? parent?.json) ? JSON.stringify(r.report) : r.report.steps.map((s) => `${s.ok ? 'ok  ' : 'FAIL'} ${s.step}: ${s.detail}`).join('\n'));
      if (!r.report.steps.every((s) => s.ok)) process.exitCode = 1;
    });
}

function requireConfig(config: string | undefined): string {
  if (!config) throw new CliError("required option '--config <file>' not specified", 2);
  return config;
}

/** "90s", "10m", "2h", "1d" in milliseconds. */
export function parseDurationMs(text: string, what: string): number {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new CliError(`${what}: a duration such as 90s, 10m, 2h or 1d`, 2);
  const ms = Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (ms <= 0) throw new CliError(`${what}: longer than zero`, 2);
  return ms;
}

async function openHub(configFile: string) {
  const [{ loadHubSettings, directoryTarget }, { HubDirectory }, { EnrolmentBook }] = await Promise.all([
    import('../../sync/hub/settings.js'),
    import('../../sync/hub/directory.js'),
    import('../../sync/hub/fleet/enrolment-book.js'),
  ]);
  const loaded = loadHubSettings(configFile);
  const directory = await HubDirectory.open(directoryTarget(loaded));
  return { loaded, directory, book: new EnrolmentBook(directory.sql) };
}

/** `safegate hub devices`. */
export async function listFleetDevices(configFile: string, o: { json?: boolean; silentAfter?: string }): Promise<string> {
  const silentAfterMs = o.silentAfter === undefined ? undefined : parseDurationMs(o.silentAfter, '--silent-after');
  const { loaded, directory, book } = await openHub(configFile);
  try {
    const store = await openStore(loaded.storePath);
    try {
      const [{ fleetDevices }, { RevocationMarks }] = await Promise.all([import('../../sync/hub/fleet/fleet-devices.js'), import('../../sync/hub/fleet/revocation-marks.js')]);
      const nowMs = Date.now();
      const rows = await fleetDevices({ book, directory, store, revocations: new RevocationMarks(directory.sql), nowMs, silentAfterMs: silentAfterMs ?? loaded.settings.fleet.silentAfterMinutes * 60_000 });
      if (o.json) return rows.map((r) => JSON.stringify(r)).join('\n');
      if (rows.length === 0) return 'no device: none enrolled, placed or heard from';
      return rows.map((r) => deviceLine(r, nowMs)).join('\n');
    } finally {
      await store.close();
    }
  } finally {
    await directory.close();
  }
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function deviceLine(r: import('../../sync/hub/fleet/fleet-devices.js').FleetDevice, nowMs: number): string {
  const parts = [
    r.deviceId,
    `${r.siteId ?? '-'}/${r.checkpointId ?? '-'}`,
    r.version ?? 'version ?',
    r.lastSeenMs === null ? 'never heard' : `heard ${ago(nowMs - r.lastSeenMs)} ago`,
    `outbox ${r.outboxDepth ?? '?'}`,
    `roster ${r.rosterAgeS === null ? '?' : ago(r.rosterAgeS * 1000)}`,
    `cert ${r.certDaysLeft === null ? '?' : `${r.certDaysLeft}d`}`,
    `settings v${r.settingsVersion ?? '?'}${r.settingsRefused ? ` (REFUSED v${r.settingsRefused.version})` : ''}`,
    r.enrolled ? 'enrolled' : 'not enrolled',
  ];
  if (r.revoked) parts.push('REVOKED');
  if (r.silent) parts.push('SILENT');
  return parts.join('  ');
}

/**
 * `safegate hub devices revoke ID`: the three steps of sync/hub/fleet/revocation.ts, each reported.
 * The broker cut-off is a running hub process's: it re-reads the marks every
 * fleet.revokedRefreshSeconds, cuts the device off over its own link and records that in the
 * directory. This command waits `waitMs` for that record; only when nobody confirms (no hub process
 * running) does it sign in to the broker itself, as the hub's identity, which would otherwise take a
 * running hub's session over (its will "hub offline" to every kiosk, its queued messages dropped).
 */
export async function revokeFleetDevice(configFile: string, deviceId: string, o: { waitMs?: number } = {}) {
  const [{ revokeDevice, cutOffOverMqtt, UnknownDeviceError }, { HubPki }, { DEVICE_ID_PATTERN }, { RevocationMarks }] = await Promise.all([
    import('../../sync/hub/fleet/revocation.js'),
    import('../../sync/hub/fleet/pki.js'),
    import('../../base/common/ids.js'),
    import('../../sync/hub/fleet/revocation-marks.js'),
  ]);
  const { loaded, directory, book } = await openHub(configFile);
  const marks = new RevocationMarks(directory.sql);
  const waitMs = o.waitMs ?? 15_000;
  const store = await openStore(loaded.storePath);
  try {
    const report = await revokeDevice(deviceId, {
      // Any device the hub knows (enrolled, placed or heard from): one provisioned by hand is denied and refused too.
      markRevoked: async (id, atMs) => ((await knownDevice({ book, directory, store }, id)) ? marks.mark(id, atMs) : ('unknown' as const)),
      // Every revoked device's certificates, not only this one's: the CRL is rewritten whole, under the directory's write lock.
      writeCrl: () => marks.writeCrl((entries) => HubPki.open(loaded.pkiDir, { deviceCertDays: loaded.settings.pki.deviceCertDays }).writeCrl(entries)),
      cutOff: async (ids) => {
        const deadline = Date.now() + waitMs;
        for (;;) {
          const at = await Promise.all(ids.map((id) => marks.cutOffAt(id)));
          if (at.every((t) => t !== null)) return { ok: true, detail: 'confirmed by a running hub process' };
          if (Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, 250));
        }
        const own = await cutOffOverMqtt(loaded.broker, loaded.settings.id, ids);
        const none = `no hub process was running to confirm it within ${Math.round(waitMs / 1000)} s`;
        return own.ok ? { ok: true, detail: `by this command as ${loaded.settings.id}: ${none}` } : { ok: false, reason: `${none}, and this command could not: ${own.reason}` };
      },
    }).catch(async (err: unknown) => {
      if (err instanceof UnknownDeviceError) {
        // A device that has only an unused enrolment code (a lost sheet): the code is what to revoke.
        const cancelled = DEVICE_ID_PATTERN.test(deviceId) ? (await book.cancelTokens({ deviceIds: [deviceId] })).cancelled.length > 0 : false;
        if (cancelled) return { deviceId, steps: [{ step: 'directory' as const, ok: true, detail: 'never enrolled: its unused enrolment code is cancelled and enrols nothing now' }] };
        throw new CliError(`cannot revoke: ${err.message}`, 1);
      }
      throw err;
    });
    return { report };
  } finally {
    await store.close();
    await directory.close();
  }
}

async function openStore(storePath: string) {
  const url = process.env.DATABASE_URL;
  return url ? (await import('../../sync/hub/pg-store.js')).PgHubStore.open(url) : new (await import('../../sync/hub/store.js')).SqliteHubStore(storePath);
}

/** Whether the hub knows this device: enrolled, placed in a site or at a checkpoint, or heard from. */
async function knownDevice(o: Omit<Parameters<typeof import('../../sync/hub/fleet/fleet-devices.js').fleetDevices>[0], 'nowMs' | 'silentAfterMs' | 'only'>, deviceId: string): Promise<boolean> {
  const { fleetDevices } = await import('../../sync/hub/fleet/fleet-devices.js');
  return (await fleetDevices({ ...o, nowMs: Date.now(), silentAfterMs: 0, only: new Set([deviceId]) })).length > 0;
}
