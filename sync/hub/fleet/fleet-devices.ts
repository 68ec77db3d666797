import type { HubDirectory } from '../directory.js';
import type { HubStore } from '../store.js';
import type { EnrolmentBook } from './enrolment-book.js';
import type { RevocationMarks } from './revocation-marks.js';

const DAY_MS = 86_400_000;

/**
 * One device as the hub knows it (`safegate hub devices --json`, the console's devices page): where
 * it is, whether it is enrolled or revoked, and what its last heartbeat said. Fields the hub cannot
 * know (a device that never sent a heartbeat, a kiosk too old to report its fleet block) are null.
 */
export interface FleetDevice {
  deviceId: string;
  siteId: string | null;
  checkpointId: string | null;
  /** Enrolled with a token at this hub (the enrolment book); a device provisioned by hand is not. */
  enrolled: boolean;
  enrolledAtMs: number | null;
  revoked: boolean;
  revokedAtMs: number | null;
  /** The software version from its last heartbeat. */
  version: string | null;
  /** When the hub last heard from it (a heartbeat or a batch, hub clock), epoch ms. */
  lastSeenMs: number | null;
  /** The time its last heartbeat carries (the kiosk's clock). */
  heartbeatAtMs: number | null;
  outboxDepth: number | null;
  oldestUnsyncedAgeS: number | null;
  rosterAgeS: number | null;
  policyVersion: number | null;
  /** Days until its certificate expires: the kiosk's own figure when it reports one, else the hub's record of what it issued. */
  certDaysLeft: number | null;
  /** The newest settings document it applied (0: none), from its heartbeat. */
  settingsVersion: number | null;
  /** The last remote settings version it refused, and why. */
  settingsRefused: { version: number; problems: string[] } | null;
  /** Not heard from within the threshold (or never). */
  silent: boolean;
}

/**
 * Every device the hub knows: enrolled (the book), placed in a site or at a checkpoint (the
 * directory), or heard from (the store), sorted by id; `only` narrows it to these ids.
 */
export async function fleetDevices(o: {
  book: Pick<EnrolmentBook, 'devices' | 'tokens'>;
  directory: Pick<HubDirectory, 'sites' | 'checkpoints'>;
  store: Pick<HubStore, 'deviceStatus' | 'heardDevices'>;
  /** The directory's revocation marks: devices revoked without being enrolled here (provisioned by hand) too. */
  revocations?: Pick<RevocationMarks, 'list'>;
  nowMs: number;
  silentAfterMs: number;
  only?: ReadonlySet<string>;
}): Promise<FleetDevice[]> {
  const [enrolled, tokens, sites, checkpoints, heard, marks] = await Promise.all([
    o.book.devices(),
    o.book.tokens(o.nowMs),
    o.directory.sites(),
    o.directory.checkpoints(),
    o.store.heardDevices(),
    o.revocations?.list() ?? Promise.resolve([]),
  ]);
  const revokedAt = new Map(marks.map((m) => [m.deviceId, m.revokedAtMs]));
  const at = new Map<string, { siteId: string | null; checkpointId: string | null }>();
  // What the device was enrolled for, then where the directory puts it (which wins: it is kept current).
  for (const t of tokens) if (t.usedAtMs !== null) at.set(t.deviceId, { siteId: t.settings.siteId, checkpointId: t.settings.checkpoint.id });
  for (const [siteId, devices] of sites) for (const d of devices) at.set(d, { siteId, checkpointId: null });
  for (const c of checkpoints) for (const d of c.devices) at.set(d, { siteId: c.siteId, checkpointId: c.id });
  const book = new Map(enrolled.map((d) => [d.deviceId, d]));
  const ids = [...new Set([...book.keys(), ...at.keys(), ...heard])].filter((id) => !o.only || o.only.has(id)).sort();
  const status = await o.store.deviceStatus(ids);
  return ids.map((deviceId): FleetDevice => {
    const e = book.get(deviceId);
    const s = status.get(deviceId);
    const hb = s?.heartbeat ?? null;
    const lastSeenMs = s?.lastSeenMs ?? null;
    const issuedDaysLeft = e ? Math.round(((e.certNotAfterMs - o.nowMs) / DAY_MS) * 10) / 10 : null;
    return {
      deviceId,
      siteId: at.get(deviceId)?.siteId ?? null,
      checkpointId: at.get(deviceId)?.checkpointId ?? null,
      enrolled: e !== undefined,
      enrolledAtMs: e?.enrolledAtMs ?? null,
      revoked: e?.revokedAtMs != null || revokedAt.has(deviceId),
      revokedAtMs: e?.revokedAtMs ?? revokedAt.get(deviceId) ?? null,
      version: hb?.software ?? null,
      lastSeenMs,
      heartbeatAtMs: hb?.atMs ?? null,
      outboxDepth: hb?.outboxDepth ?? null,
      oldestUnsyncedAgeS: hb?.oldestUnsyncedAgeS ?? null,
      rosterAgeS: hb?.rosterAgeS ?? null,
      policyVersion: hb?.policyVersion ?? null,
      certDaysLeft: hb?.fleet?.certDaysLeft ?? issuedDaysLeft,
      settingsVersion: hb?.fleet?.settingsVersion ?? null,
      settingsRefused: hb?.fleet?.settingsRefused ?? null,
      silent: lastSeenMs === null || o.nowMs - lastSeenMs > o.silentAfterMs,
    };
  });
}
