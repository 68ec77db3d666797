import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { keyIdOf, keyIdText } from '../../base/node/keys.js';
import type { KeyRole } from '../../base/common/key-roles.js';
import { openDatabase, type SqliteDatabase } from '../../base/node/sqlite.js';
import type { Notice, Placement, WorkerRecord } from '../../base/common/types.js';
import { hubKeySchema, hubSupervisorSchema, noticeSchema, policyDocumentSchema, revocationSchema, sealDownlink, streamCodecs, type DownlinkPart, type StreamCodec } from '../downlink-codec.js';
import { PROTOCOL_VERSION, type DownlinkStream, type SyncRequest } from '../protocol.js';
import { deviceIdSchema, identifierSchema } from '../../base/common/ids.js';
import { startOfDayIn, timeOfDayIn } from '../../base/common/time.js';
import { z } from 'zod';
import * as m0001 from './directory-migrations/0001-records.js';
import * as m0002 from './directory-migrations/0002-forget-removed.js';
import * as m0003 from './directory-migrations/0003-device-sites.js';
import * as m0004 from './directory-migrations/0004-registry.js';
import * as m0005 from './directory-migrations/0005-list-uploads.js';
import * as m0006 from './directory-migrations/0006-roster-scopes.js';
import * as m0007 from './directory-migrations/0007-placements.js';
import * as m0008 from './directory-migrations/0008-passes.js';
import * as m0009 from './directory-migrations/0009-phone-links.js';
import * as m0010 from './directory-migrations/0010-shuttles-supervisors.js';
import * as m0011 from './directory-migrations/0011-declarations.js';
import * as m0012 from './directory-migrations/0012-repair.js';
import * as m0013 from './directory-migrations/0013-exports.js';
import * as m0014 from './directory-migrations/0014-links-follow-lists.js';
import * as m0015 from './directory-migrations/0015-visits.js';
import { listProblem, WorkerListError, type ListedWorker, type ListProblem } from './registry-upload.js';

export const DIRECTORY_MIGRATIONS = [
  { version: 1, name: '0001-records', up: m0001.up },
  { version: 2, name: '0002-forget-removed', up: m0002.up },
  { version: 3, name: '0003-device-sites', up: m0003.up },
  { version: 4, name: '0004-registry', up: m0004.up },
  { version: 5, name: '0005-list-uploads', up: m0005.up },
  { version: 6, name: '0006-roster-scopes', up: m0006.up },
  { version: 7, name: '0007-placements', up: m0007.up },
  { version: 8, name: '0008-passes', up: m0008.up },
  { version: 9, name: '0009-phone-links', up: m0009.up },
  { version: 10, name: '0010-shuttles-supervisors', up: m0010.up },
  { version: 11, name: '0011-declarations', up: m0011.up },
  { version: 12, name: '0012-repair', up: m0012.up },
  { version: 13, name: '0013-exports', up: m0013.up },
  { version: 14, name: '0014-links-follow-lists', up: m0014.up },
  { version: 15, name: '0015-visits', up: m0015.up },
] as const;

export const ORGANISATION_KINDS = ['company', 'agency', 'market'] as const;
export type OrganisationKind = (typeof ORGANISATION_KINDS)[number];
export const CHECKPOINT_KINDS = ['gate', 'zone', 'team', 'canteen', 'dormitory', 'bus'] as const;
export type CheckpointKind = (typeof CHECKPOINT_KINDS)[number];

export interface Organisation {
  id: string;
  name: string;
  kind: OrganisationKind;
  sites: number;
  workers: number;
  /** When the organisation last uploaded its worker list (null: never). */
  listUploadedAtMs: number | null;
}

export interface RegisteredSite {
  id: string;
  /** Null for a site named before organisations existed (by `safegate hub device assign`). */
  orgId: string | null;
  name: string;
  devices: number;
  checkpoints: number;
}

export interface RegisteredCheckpoint {
  id: string;
  siteId: string;
  name: string;
  kind: CheckpointKind;
  /** The organisations whose workers pass here (an industrial-zone gate serves several). */
  orgIds: string[];
  /** The devices placed here (`safegate hub device assign --checkpoint`). */
  devices: string[];
}

/** CV 2242: an employer updates its worker list every 3 days, and the day's test results before 15:00. */
export const LIST_MAX_AGE_MS = 3 * 86_400_000;
export const TEST_RESULTS_DEADLINE = '15:00';

/**
 * Where an organisation stands against CV 2242 at a moment: its list's age, whether the day's list
 * came in before 15:00 in the province zone (`not-yet` before the deadline, `late` when only after it,
 * `missing` when none came today), and whether it is out of compliance (no list, or one older than 3 days).
 */
export interface ListCompliance {
  orgId: string;
  listAgeMs: number | null;
  todaysList: 'before-deadline' | 'not-yet' | 'late' | 'missing';
  outOfCompliance: boolean;
}

/** A registry refusal in plain words (an unknown organisation, a site of another one...). */
export class RegistryError extends Error {
  override name = 'RegistryError';
}

const registryNameSchema = z.string().trim().min(1, 'a name is required').max(120, 'a name is at most 120 characters');

/** The roster scope of the province-wide list (`safegate hub roster import`): workers on no organisation's list. */
export const PROVINCE_SCOPE = '';

/** The roster scope of a route's riders (for a bus checkpoint linked to routes): `route:<route id>`. */
export const ROUTE_SCOPE = 'route:';

const plateSchema = z.string().trim().toUpperCase().regex(/^[0-9A-Z][0-9A-Z. -]{3,15}$/, 'a plate is 4 to 16 letters, digits, dots, dashes or spaces (e.g. 51B-123.45)');

/** Records per downlink part: about 400 KB of CBOR, quick to verify and stage on a kiosk. */
export const PART_SIZE = 5_000;

/** The hub's published data (roster, notices, revocations, policy) with revisions, and the transfers it answers with. */
export class HubDirectory {
  private readonly db: SqliteDatabase;

  constructor(path: string) {
    this.db = openDatabase(path, { migrations: DIRECTORY_MIGRATIONS, busyTimeoutMs: 5_000 });
  }

  revision(stream: string): number {
    const r = this.db.prepare('SELECT rev FROM stream_revisions WHERE stream = ?').get(stream) as { rev: number } | undefined;
    return r?.rev ?? 0;
  }

  /**
   * Takes a roster (e.g. from a CSV) as the new truth for the records it names; with `replace`, every
   * other worker is removed, except those on an organisation's uploaded list (an organisation's
   * workers change only by its own upload or by name). Unchanged records keep their revision, so
   * kiosks download only changes.
   */
  importRoster(records: readonly WorkerRecord[], replace: boolean): { rev: number; changed: number; removed: number } {
    return this.db
      .transaction(() => {
        // A worker on an organisation's list keeps its organisation and site (the list is theirs to change).
        const listedAt = this.db.prepare('SELECT org_id AS orgId, site_id AS siteId FROM hub_workers WHERE worker_id = ?');
        const r = this.putRecords(
          'roster',
          records.map((w) => {
            const { orgId: _o, siteId: _s, ...rest } = w;
            const at = listedAt.get(w.workerId) as { orgId: string; siteId: string } | undefined;
            return [w.workerId, at ? { ...rest, ...at } : rest];
          }),
          replace,
        );
        // A removed worker's hub-only data (ID number, phone, residence) goes with them.
        if (r.removed) this.db.exec("DELETE FROM hub_workers WHERE worker_id IN (SELECT key FROM records WHERE stream = 'roster' AND deleted = 1)");
        return r;
      })
      .immediate();
  }

  /** Publishes (or replaces) a notice; kiosks keep and show it until it expires. */
  publishNotice(notice: Notice): number {
    // Validated here with the kiosks' own schema: a record they would refuse must never go out.
    const checked = noticeSchema.parse(notice);
    return this.putRecords('notices', [[checked.id, checked]], false).rev;
  }

  /**
   * Removes workers: kiosks drop them at their next download, and the hub keeps only a tombstone
   * (the id and the revision), never the removed person's name or health record.
   */
  removeWorkers(workerIds: readonly string[]): { rev: number; removed: number } {
    return this.db
      .transaction(() => {
        const rev = this.revision('roster') + 1;
        const removed = this.forgetWorkers(workerIds, rev);
        return { rev: removed ? rev : rev - 1, removed };
      })
      .immediate();
  }

  /** Tombstones workers at a revision (their hub-only data goes too); the caller's transaction. */
  private forgetWorkers(workerIds: readonly string[], rev: number): number {
    const forget = this.db.prepare("UPDATE records SET deleted = 1, value = 'null', rev = ? WHERE stream = 'roster' AND key = ? AND deleted = 0");
    const forgetHubOnly = this.db.prepare('DELETE FROM hub_workers WHERE worker_id = ?');
    let removed = 0;
    for (const id of workerIds) {
      removed += forget.run(rev, id).changes;
      forgetHubOnly.run(id);
    }
    if (removed) this.bump('roster', rev);
    this.dropRiders(workerIds, rev);
    return removed;
  }

  /**
   * Takes workers who left their organisation's list (or the roster) off every route they rode; the
   * kiosks of those routes' bus checkpoints get a fresh snapshot at `rev` (a delta would no longer name
   * them). The caller's transaction.
   */
  private dropRiders(workerIds: readonly string[], rev: number): void {
    const routesOf = this.db.prepare('SELECT route_id FROM route_riders WHERE worker_id = ?');
    const drop = this.db.prepare('DELETE FROM route_riders WHERE worker_id = ?');
    const routes = new Set<string>();
    for (const id of workerIds) {
      for (const r of routesOf.all(id) as { route_id: string }[]) routes.add(r.route_id);
      drop.run(id);
    }
    if (routes.size === 0) return;
    const devicesOf = this.db.prepare('SELECT d.device_id FROM device_sites d JOIN checkpoint_routes c ON c.checkpoint_id = d.checkpoint_id WHERE c.route_id = ?');
    const put = this.db.prepare('INSERT INTO device_scopes (device_id, rev) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET rev = max(rev, excluded.rev)');
    let any = false;
    for (const r of routes) {
      for (const d of devicesOf.all(r) as { device_id: string }[]) {
        put.run(d.device_id, rev);
        any = true;
      }
    }
    if (any && this.revision('roster') < rev) this.bump('roster', rev);
  }

  /** Revokes a pass by its id (shown by `safegate pass verify`); kiosks refuse it from their next download. */
  revokePass(passId: string, nowMs = Date.now()): number {
    const r = revocationSchema.parse({ passId, revokedAtMs: nowMs });
    return this.putRecords('revocations', [[r.passId, r]], false).rev;
  }

  /** Publishes a policy document; it must pass the kiosks' own checks and be newer than the last one. */
  publishPolicy(document: unknown): number {
    const value = policyDocumentSchema.parse({ document });
    const held = this.db.prepare("SELECT value FROM records WHERE stream = 'policy' AND key = 'current'").get() as { value: string } | undefined;
    const version = (document as { version: number }).version;
    if (held && (JSON.parse(held.value) as { document: { version: number } }).document.version >= version) {
      throw new Error(`policy version ${version} is not newer than the published one`);
    }
    return this.putRecords('policy', [['current', value]], false).rev;
  }

  /**
   * Publishes a hub signing key (public half) for one role; kiosks trust it once the transfer is
   * signed by a downlink key they have installed, for at most the role's delivered lifetime.
   */
  publishKey(publicPem: string, role: KeyRole, notAfterMs?: number): { kid: string; rev: number } {
    const kid = keyIdText(keyIdOf(createPublicKey(publicPem)));
    const value = hubKeySchema.parse({ kid, role, publicPem, ...(notAfterMs !== undefined ? { notAfterMs } : {}) });
    return { kid, rev: this.putRecords('keys', [[kid, value]], false).rev };
  }

  /** Retires a key that was published here; kiosks stop trusting it. */
  retireKey(kid: string): number {
    return this.db
      .transaction(() => {
        const rev = this.revision('keys') + 1;
        if (this.db.prepare("UPDATE records SET deleted = 1, value = 'null', rev = ? WHERE stream = 'keys' AND key = ? AND deleted = 0").run(rev, kid).changes === 0) {
          throw new Error(`no published key ${kid}`);
        }
        this.bump('keys', rev);
        return rev;
      })
      .immediate();
  }

  withdrawNotice(id: string): number {
    return this.db
      .transaction(() => {
        const rev = this.revision('notices') + 1;
        const n = this.db.prepare("UPDATE records SET deleted = 1, value = 'null', rev = ? WHERE stream = 'notices' AND key = ? AND deleted = 0").run(rev, id).changes;
        if (n === 0) throw new Error(`no published notice ${id}`);
        this.bump('notices', rev);
        return rev;
      })
      .immediate();
  }

  private bump(stream: string, rev: number): void {
    this.db.prepare('INSERT INTO stream_revisions (stream, rev) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev').run(stream, rev);
  }

  /**
   * Writes records at the stream's next revision. A roster record goes in the scope it is given (an
   * organisation's upload), else in its worker's organisation's, else in the province list's ('');
   * a worker who changes scope leaves a departure behind, so the old scope's kiosks drop them.
   */
  private putRecords(stream: DownlinkStream, entries: readonly (readonly [key: string, value: unknown, scope?: string])[], replace: boolean): { rev: number; changed: number; removed: number } {
    return this.db
      .transaction(() => {
        const rev = this.revision(stream) + 1;
        const get = this.db.prepare('SELECT value, deleted, scope FROM records WHERE stream = ? AND key = ?');
        const put = this.db.prepare(
          `INSERT INTO records (stream, key, value, deleted, rev, scope) VALUES (?, ?, ?, 0, ?, ?)
           ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value, deleted = 0, rev = excluded.rev, scope = excluded.scope`,
        );
        const ownerOf = this.db.prepare('SELECT org_id FROM hub_workers WHERE worker_id = ?');
        const depart = this.db.prepare('INSERT INTO roster_departures (worker_id, scope, rev) VALUES (?, ?, ?) ON CONFLICT (worker_id, scope) DO UPDATE SET rev = excluded.rev');
        let changed = 0;
        for (const [key, value, given] of entries) {
          const json = JSON.stringify(value);
          const scope = given ?? (stream === 'roster' ? ((ownerOf.get(key) as { org_id: string } | undefined)?.org_id ?? PROVINCE_SCOPE) : PROVINCE_SCOPE);
          const old = get.get(stream, key) as { value: string; deleted: number; scope: string } | undefined;
          if (old && old.deleted === 0 && old.value === json && old.scope === scope) continue;
          if (old && old.scope !== scope) depart.run(key, old.scope, rev);
          put.run(stream, key, json, rev, scope);
          changed++;
        }
        let removed = 0;
        if (replace) {
          this.db.exec('CREATE TEMP TABLE IF NOT EXISTS import_keys (key TEXT PRIMARY KEY)');
          this.db.exec('DELETE FROM import_keys');
          const keep = this.db.prepare('INSERT OR IGNORE INTO import_keys VALUES (?)');
          for (const [key] of entries) keep.run(key);
          // An organisation's uploaded workers are replaced by its own uploads only, never by a province-wide import.
          const spare = stream === 'roster' ? ' AND key NOT IN (SELECT worker_id FROM hub_workers)' : '';
          removed = this.db
            .prepare(`UPDATE records SET deleted = 1, value = 'null', rev = ? WHERE stream = ? AND deleted = 0 AND key NOT IN (SELECT key FROM import_keys)${spare}`)
            .run(rev, stream).changes;
        }
        if (changed + removed > 0) this.bump(stream, rev);
        return { rev: changed + removed > 0 ? rev : rev - 1, changed, removed };
      })
      .immediate();
  }

  /** The parts that bring a kiosk from its cursor to the current revision (unsigned): the whole stream, every scope (tools and tests; the hub answers devices with respondTo). */
  respond(req: SyncRequest, nowMs: number, partSize = PART_SIZE): DownlinkPart[] {
    return [...this.respondParts(req, nowMs, partSize)];
  }

  /** The same for one device: its roster is its checkpoint's (see rosterScopes). */
  respondTo(deviceId: string, req: SyncRequest, nowMs: number, partSize = PART_SIZE): DownlinkPart[] {
    return [...this.respondParts(req, nowMs, partSize, deviceId)];
  }

  /**
   * The same, one part at a time, so the hub can send part 1 while it builds part 2. The rows are
   * read in one statement, so a snapshot is consistent even while an import runs. For a device, the
   * roster is its scopes only (see rosterScopes); a device whose scopes changed after its cursor gets
   * a snapshot, so it keeps no worker it should no longer have. Without a device: every scope.
   */
  *respondParts(req: SyncRequest, nowMs: number, partSize = PART_SIZE, deviceId?: string): Generator<DownlinkPart> {
    const plan = this.db.transaction(() => {
      const current = this.revision(req.stream);
      const base = { v: PROTOCOL_VERSION, stream: req.stream, issuedAtMs: nowMs } as const;
      if (req.cursor === current) return { ...base, kind: 'current', from: current, to: current, part: 0, parts: 1, body: [] } satisfies DownlinkPart;
      // The roster goes by the device's checkpoint, a placement to its own device only, supervisors to their site's devices.
      const scoped = deviceId !== undefined && (req.stream === 'roster' || req.stream === 'placement' || req.stream === 'supervisors');
      const site = scoped && req.stream === 'supervisors' ? this.siteOf(deviceId) : undefined;
      const scopeList = scoped ? (req.stream === 'roster' ? this.rosterScopes(deviceId) : req.stream === 'placement' ? [deviceId] : site ? [site] : []) : [];
      // Bound one by one (a checkpoint serves a few organisations), so SQLite takes the scope index.
      const scopes = Object.fromEntries(scopeList.map((v, i) => [`s${i}`, v.startsWith(ROUTE_SCOPE) ? v.slice(ROUTE_SCOPE.length) : v]));
      const scopeIn = scopeList.length ? `(${scopeList.map((_, i) => `@s${i}`).join(', ')})` : '(NULL)';
      // The revision at which what this device receives of the stream last changed (always at or below current).
      const rescoped = !scoped
        ? 0
        : req.stream === 'roster'
          ? // Its own rescope revision, or the floor every device is held to (device '*', see directory migration 0012).
            ((this.db.prepare("SELECT max(rev) AS rev FROM device_scopes WHERE device_id IN (?, '*')").get(deviceId) as { rev: number | null } | undefined)?.rev ?? 0)
          : ((this.db.prepare('SELECT rev FROM device_stream_scopes WHERE device_id = ? AND stream = ?').get(deviceId, req.stream) as { rev: number } | undefined)?.rev ?? 0);
      // A kiosk ahead of the hub (the hub's data was reset), holding nothing, or holding another scope's workers gets a snapshot.
      const snapshot = req.cursor === 0 || req.cursor > current || req.cursor < rescoped;
      // A bus checkpoint linked to routes receives their riders (scopes 'route:<id>'), every other one its organisations' workers.
      const byRoute = scoped && req.stream === 'roster' && scopeList.some((s) => s.startsWith(ROUTE_SCOPE));
      // A rider counts only while an organisation the route serves lists them (a worker who moved to another one is not sent).
      const inScope = !scoped
        ? ''
        : byRoute
          ? ` AND key IN (SELECT x.worker_id FROM route_riders x JOIN route_orgs o ON o.route_id = x.route_id JOIN hub_workers h ON h.worker_id = x.worker_id AND h.org_id = o.org_id WHERE x.route_id IN ${scopeIn})`
          : ` AND scope IN ${scopeIn}`;
      const rows = (
        snapshot
          ? this.db.prepare(`SELECT key, value, deleted FROM records WHERE stream = @stream AND deleted = 0${inScope} ORDER BY key`).all({ stream: req.stream, ...scopes })
          : scoped && req.stream === 'roster' && !byRoute
            ? this.db
                .prepare(
                  `SELECT key, value, deleted FROM records WHERE stream = 'roster' AND rev > @cursor${inScope}
                   UNION ALL
                   SELECT d.worker_id AS key, 'null' AS value, 1 AS deleted FROM roster_departures d
                   WHERE d.rev > @cursor AND d.scope IN ${scopeIn}
                     AND NOT EXISTS (SELECT 1 FROM records r WHERE r.stream = 'roster' AND r.key = d.worker_id AND r.scope IN ${scopeIn})`,
                )
                .all({ cursor: req.cursor, ...scopes })
            : this.db.prepare(`SELECT key, value, deleted FROM records WHERE stream = @stream AND rev > @cursor${inScope}`).all({ stream: req.stream, cursor: req.cursor, ...scopes })
      ) as { key: string; value: string; deleted: number }[];
      // A delta is sorted here, not in SQL: an ORDER BY key would make SQLite walk the whole stream in
      // key order instead of taking the few changed rows by revision. (Identifiers are ASCII: the same order.)
      if (!snapshot) rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const parts = Math.max(1, Math.ceil(rows.length / partSize));
      const from = snapshot ? 0 : req.cursor;
      const kind = snapshot ? 'snapshot' : 'delta';
      const resume = req.resume && req.resume.to === current && req.resume.parts === parts ? new Set(req.resume.have) : new Set<number>();
      return { rows, base, kind, from, current, parts, resume } as const;
    })();
    if ('part' in plan) {
      yield plan;
      return;
    }
    const { rows, base, kind, from, current, parts, resume } = plan;
    const codec = streamCodecs[req.stream] as StreamCodec<unknown>;
    for (let part = 0; part < parts; part++) {
      if (resume.has(part)) continue;
      const body = rows
        .slice(part * partSize, (part + 1) * partSize)
        .map((r) => codec.toWire(r.deleted ? { deleted: true, key: r.key } : { deleted: false, key: r.key, value: JSON.parse(r.value) }));
      yield { ...base, kind, from, to: current, part, parts, body };
    }
  }

  /** Signed, ready to publish, one part at a time: the whole stream (tools and tests). */
  *respondSigned(req: SyncRequest, nowMs: number, key: KeyObject, partSize = PART_SIZE): Generator<Uint8Array> {
    for (const p of this.respondParts(req, nowMs, partSize)) yield sealDownlink(p, key);
  }

  /** Signed, for the device that asked (the broker's ACL ties the request's topic to its certificate). */
  *respondSignedTo(deviceId: string, req: SyncRequest, nowMs: number, key: KeyObject, partSize = PART_SIZE): Generator<Uint8Array> {
    for (const p of this.respondParts(req, nowMs, partSize, deviceId)) yield sealDownlink(p, key);
  }

  // ---- roster scopes: which workers each device receives ---------------------------------------

  /** Where a device is (the `placement` stream's record for it), or undefined for a device in no site. */
  placementOf(deviceId: string): Placement | undefined {
    const d = this.db.prepare('SELECT site_id, checkpoint_id FROM device_sites WHERE device_id = ?').get(deviceId) as { site_id: string; checkpoint_id: string | null } | undefined;
    if (!d) return undefined;
    // A bus checkpoint serves its own organisations and those of the routes it is linked to.
    const orgIds = d.checkpoint_id
      ? (
          this.db
            .prepare('SELECT org_id FROM checkpoint_orgs WHERE checkpoint_id = @c UNION SELECT o.org_id FROM checkpoint_routes r JOIN route_orgs o ON o.route_id = r.route_id WHERE r.checkpoint_id = @c ORDER BY 1')
            .all({ c: d.checkpoint_id }) as { org_id: string }[]
        ).map((o) => o.org_id)
      : [];
    return { deviceId, checkpointId: d.checkpoint_id, siteId: d.site_id, orgIds };
  }

  /**
   * The roster scopes a device receives: the organisations its checkpoint serves (for a bus checkpoint
   * linked to routes: those routes' riders); a device at no checkpoint (or unknown) gets the province
   * list only, never an organisation's uploaded workers.
   */
  rosterScopes(deviceId: string): string[] {
    const routes = this.db
      .prepare('SELECT r.route_id FROM device_sites d JOIN checkpoint_routes r ON r.checkpoint_id = d.checkpoint_id WHERE d.device_id = ? ORDER BY r.route_id')
      .all(deviceId) as { route_id: string }[];
    if (routes.length) return routes.map((r) => `${ROUTE_SCOPE}${r.route_id}`);
    const orgs = this.db
      .prepare('SELECT o.org_id FROM device_sites d JOIN checkpoint_orgs o ON o.checkpoint_id = d.checkpoint_id WHERE d.device_id = ? ORDER BY o.org_id')
      .all(deviceId) as { org_id: string }[];
    return orgs.length ? orgs.map((o) => o.org_id) : [PROVINCE_SCOPE];
  }

  /**
   * Runs a change to where devices are or what their checkpoints serve; each device whose scopes it
   * changed gets a fresh snapshot at its next download (the roster revision moves on, and the device's
   * rescope revision with it). The caller's transaction.
   */
  private rescoping<T>(deviceIds: readonly string[], change: () => T): T {
    const before = new Map(deviceIds.map((d) => [d, this.rosterScopes(d).join(' ')]));
    const placedBefore = new Map(deviceIds.map((d) => [d, JSON.stringify(this.placementOf(d) ?? null)]));
    const sitesBefore = new Map(deviceIds.map((d) => [d, this.siteOf(d) ?? null]));
    const result = change();
    // A device in another site (or none) gets a fresh snapshot of the site's supervisors.
    const moved = deviceIds.filter((d) => (this.siteOf(d) ?? null) !== sitesBefore.get(d));
    if (moved.length) {
      const rev = this.revision('supervisors') + 1;
      this.bump('supervisors', rev);
      const put = this.db.prepare("INSERT INTO device_stream_scopes (device_id, stream, rev) VALUES (?, 'supervisors', ?) ON CONFLICT (device_id, stream) DO UPDATE SET rev = excluded.rev");
      for (const d of moved) put.run(d, rev);
    }
    const placed = deviceIds.filter((d) => JSON.stringify(this.placementOf(d) ?? null) !== placedBefore.get(d));
    if (placed.length) {
      const rev = this.revision('placement') + 1;
      const put = this.db.prepare(
        `INSERT INTO records (stream, key, value, deleted, rev, scope) VALUES ('placement', @key, @value, @deleted, @rev, @key)
         ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value, deleted = excluded.deleted, rev = excluded.rev`,
      );
      for (const d of placed) {
        const p = this.placementOf(d);
        put.run({ key: d, value: JSON.stringify(p ?? null), deleted: p ? 0 : 1, rev });
      }
      this.bump('placement', rev);
    }
    const changed = [...before].filter(([d, scopes]) => this.rosterScopes(d).join(' ') !== scopes).map(([d]) => d);
    if (changed.length) {
      const rev = this.revision('roster') + 1;
      this.bump('roster', rev);
      const put = this.db.prepare('INSERT INTO device_scopes (device_id, rev) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET rev = excluded.rev');
      for (const d of changed) put.run(d, rev);
    }
    return result;
  }

  /** Gives devices a fresh roster snapshot at their next download (their riders changed). The caller's transaction. */
  private rescope(deviceIds: readonly string[]): void {
    if (deviceIds.length === 0) return;
    const rev = this.revision('roster') + 1;
    this.bump('roster', rev);
    const put = this.db.prepare('INSERT INTO device_scopes (device_id, rev) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET rev = excluded.rev');
    for (const d of deviceIds) put.run(d, rev);
  }

  // ---- hub supervisors: accounts with a kiosk PIN, sent to the kiosks of their site ---------------

  /**
   * Adds a supervisor of a site, given their PIN's hash (scrypt, see src-main/core/supervisor/pin.ts
   * hashPinForHub); the site's kiosks take them at their next download. Returns the new id.
   */
  addSupervisor(s: { siteId: string; name: string; pinHash: string }): string {
    const siteId = this.checkId(s.siteId, 'site id');
    const name = s.name.trim();
    if (name.length === 0 || name.length > 80 || /\p{Cc}/u.test(name)) throw new RegistryError("a supervisor's name is 1 to 80 characters, without control characters");
    return this.db
      .transaction(() => {
        if (!this.db.prepare('SELECT 1 FROM sites WHERE site_id = ?').get(siteId)) throw new RegistryError(`no site ${siteId} (add it with \`safegate hub site add\`)`);
        const taken = this.db.prepare("SELECT 1 FROM records WHERE stream = 'supervisors' AND deleted = 0 AND scope = ? AND json_extract(value, '$.name') = ?").get(siteId, name);
        if (taken) throw new RegistryError(`site ${siteId} already has a supervisor named ${JSON.stringify(name)}`);
        const id = `hub-${randomBytes(6).toString('hex')}`;
        this.putRecords('supervisors', [[id, hubSupervisorSchema.parse({ id, siteId, name, pinHash: s.pinHash }), siteId]], false);
        return id;
      })
      .immediate();
  }

  /** Gives a hub supervisor a new PIN (its hash, see hashPinForHub): every kiosk of their site takes it at its next download. */
  setSupervisorPin(id: string, pinHash: string): void {
    this.db
      .transaction(() => {
        const held = this.db.prepare("SELECT value, scope FROM records WHERE stream = 'supervisors' AND key = ? AND deleted = 0").get(id) as { value: string; scope: string } | undefined;
        if (!held) throw new RegistryError(`no hub supervisor ${id}`);
        const s = JSON.parse(held.value) as { id: string; siteId: string; name: string };
        this.putRecords('supervisors', [[id, hubSupervisorSchema.parse({ id: s.id, siteId: s.siteId, name: s.name, pinHash }), held.scope]], false);
      })
      .immediate();
  }

  /** Removes a hub supervisor: every kiosk of their site drops them at its next download. */
  removeSupervisor(id: string): void {
    this.db
      .transaction(() => {
        const rev = this.revision('supervisors') + 1;
        if (this.db.prepare("UPDATE records SET deleted = 1, value = 'null', rev = ? WHERE stream = 'supervisors' AND key = ? AND deleted = 0").run(rev, id).changes === 0) {
          throw new RegistryError(`no hub supervisor ${id}`);
        }
        this.bump('supervisors', rev);
      })
      .immediate();
  }

  /** The hub supervisors (of one site when given), by site and name: never the PIN hash. */
  supervisors(siteId?: string): { id: string; siteId: string; name: string }[] {
    const rows = this.db
      .prepare("SELECT value FROM records WHERE stream = 'supervisors' AND deleted = 0 AND (@site IS NULL OR scope = @site)")
      .all({ site: siteId ?? null }) as { value: string }[];
    return rows
      .map((r) => JSON.parse(r.value) as { id: string; siteId: string; name: string })
      .map(({ id, siteId: site, name }) => ({ id, siteId: site, name }))
      .sort((a, b) => a.siteId.localeCompare(b.siteId) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  // ---- shuttles: vehicles, routes, riders and drivers ------------------------------------------

  /** Registers a vehicle (its plate, the organisations it carries for, its drivers: workers on a list, or named drivers). */
  addVehicle(v: { id: string; plate: string; orgIds: readonly string[]; driverWorkers?: readonly string[]; driverNames?: readonly string[] }, nowMs = Date.now()): void {
    const id = this.checkId(v.id, 'vehicle id');
    const plate = plateSchema.safeParse(v.plate);
    if (!plate.success) throw new RegistryError(`plate ${JSON.stringify(v.plate)}: ${plate.error.issues[0]?.message ?? 'not a plate'}`);
    const orgIds = [...new Set(v.orgIds.map((o) => this.requireOrganisation(o)))];
    if (orgIds.length === 0) throw new RegistryError(`name the organisations vehicle ${id} carries for`);
    const names = (v.driverNames ?? []).map((n) => this.checkName(n));
    this.db
      .transaction(() => {
        if (this.db.prepare('SELECT 1 FROM vehicles WHERE vehicle_id = ? OR plate = ?').get(id, plate.data)) throw new RegistryError(`vehicle ${id} or plate ${plate.data} is already registered`);
        const workers = (v.driverWorkers ?? []).map((w) => {
          const owner = (this.db.prepare('SELECT org_id FROM hub_workers WHERE worker_id = ?').get(w) as { org_id: string } | undefined)?.org_id;
          if (owner === undefined) throw new RegistryError(`driver ${w} is on no organisation's worker list (name a driver who is not a worker with --driver-name)`);
          return w;
        });
        this.db.prepare('INSERT INTO vehicles (vehicle_id, plate, created_ms) VALUES (?, ?, ?)').run(id, plate.data, nowMs);
        const org = this.db.prepare('INSERT INTO vehicle_orgs (vehicle_id, org_id) VALUES (?, ?)');
        for (const o of orgIds) org.run(id, o);
        const driver = this.db.prepare('INSERT OR IGNORE INTO vehicle_drivers (vehicle_id, driver, worker_id, name) VALUES (?, ?, ?, ?)');
        for (const w of workers) driver.run(id, `worker:${w}`, w, null);
        for (const n of names) driver.run(id, `name:${n}`, null, n);
      })
      .immediate();
  }

  /**
   * Sets a vehicle's drivers (the whole list): workers on an organisation's list, and named drivers who
   * are not. A driver left out is removed, a named one too (a name is a person's data: it can go).
   */
  setVehicleDrivers(vehicleIdText: string, drivers: { workers?: readonly string[]; names?: readonly string[] }): { drivers: number } {
    const id = this.checkId(vehicleIdText, 'vehicle id');
    const names = [...new Set((drivers.names ?? []).map((n) => this.checkName(n)))];
    const workers = [...new Set((drivers.workers ?? []).map((w) => this.checkId(w, 'driver worker id')))];
    return this.db
      .transaction(() => {
        if (!this.db.prepare('SELECT 1 FROM vehicles WHERE vehicle_id = ?').get(id)) throw new RegistryError(`no vehicle ${id} (add it with \`safegate hub vehicle add\`)`);
        for (const w of workers) {
          if (!this.db.prepare('SELECT 1 FROM hub_workers WHERE worker_id = ?').get(w)) throw new RegistryError(`driver ${w} is on no organisation's worker list (name a driver who is not a worker with --driver-name)`);
        }
        this.db.prepare('DELETE FROM vehicle_drivers WHERE vehicle_id = ?').run(id);
        const put = this.db.prepare('INSERT INTO vehicle_drivers (vehicle_id, driver, worker_id, name) VALUES (?, ?, ?, ?)');
        for (const w of workers) put.run(id, `worker:${w}`, w, null);
        for (const n of names) put.run(id, `name:${n}`, null, n);
        return { drivers: workers.length + names.length };
      })
      .immediate();
  }

  /** Every vehicle, by id: plate, organisations, drivers (worker ids, or names) and the routes it runs. */
  vehicles(): { id: string; plate: string; orgIds: string[]; drivers: string[]; routes: string[] }[] {
    const rows = this.db
      .prepare(
        `SELECT v.vehicle_id AS id, v.plate,
           (SELECT group_concat(org_id, ' ') FROM (SELECT org_id FROM vehicle_orgs o WHERE o.vehicle_id = v.vehicle_id ORDER BY org_id)) AS orgs,
           (SELECT json_group_array(coalesce(worker_id, name)) FROM (SELECT worker_id, name FROM vehicle_drivers d WHERE d.vehicle_id = v.vehicle_id ORDER BY driver)) AS drivers,
           (SELECT group_concat(route_id, ' ') FROM (SELECT route_id FROM routes r WHERE r.vehicle_id = v.vehicle_id ORDER BY route_id)) AS routes
         FROM vehicles v ORDER BY v.vehicle_id`,
      )
      .all() as { id: string; plate: string; orgs: string | null; drivers: string; routes: string | null }[];
    return rows.map((r) => ({ id: r.id, plate: r.plate, orgIds: r.orgs ? r.orgs.split(' ') : [], drivers: JSON.parse(r.drivers) as string[], routes: r.routes ? r.routes.split(' ') : [] }));
  }

  /** Registers a route serving organisations, optionally run by a registered vehicle. */
  addRoute(r: { id: string; name?: string; orgIds: readonly string[]; vehicleId?: string }, nowMs = Date.now()): void {
    const id = this.checkId(r.id, 'route id');
    const name = r.name === undefined ? id : this.checkName(r.name);
    const orgIds = [...new Set(r.orgIds.map((o) => this.requireOrganisation(o)))];
    if (orgIds.length === 0) throw new RegistryError(`name the organisations route ${id} serves`);
    this.db
      .transaction(() => {
        if (r.vehicleId !== undefined && !this.db.prepare('SELECT 1 FROM vehicles WHERE vehicle_id = ?').get(r.vehicleId)) throw new RegistryError(`no vehicle ${r.vehicleId} (add it with \`safegate hub vehicle add\`)`);
        if (this.db.prepare('INSERT INTO routes (route_id, name, vehicle_id, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(id, name, r.vehicleId ?? null, nowMs).changes === 0) {
          throw new RegistryError(`route ${id} already exists`);
        }
        const org = this.db.prepare('INSERT INTO route_orgs (route_id, org_id) VALUES (?, ?)');
        for (const o of orgIds) org.run(id, o);
      })
      .immediate();
  }

  /** Every route, by id: name, organisations, vehicle, how many ride it, the bus checkpoints linked to it. */
  routes(): { id: string; name: string; orgIds: string[]; vehicleId: string | null; riders: number; checkpoints: string[] }[] {
    const rows = this.db
      .prepare(
        `SELECT r.route_id AS id, r.name, r.vehicle_id AS vehicleId,
           (SELECT group_concat(org_id, ' ') FROM (SELECT org_id FROM route_orgs o WHERE o.route_id = r.route_id ORDER BY org_id)) AS orgs,
           (SELECT count(*) FROM route_riders x WHERE x.route_id = r.route_id) AS riders,
           (SELECT group_concat(checkpoint_id, ' ') FROM (SELECT checkpoint_id FROM checkpoint_routes c WHERE c.route_id = r.route_id ORDER BY checkpoint_id)) AS checkpoints
         FROM routes r ORDER BY r.route_id`,
      )
      .all() as { id: string; name: string; vehicleId: string | null; orgs: string | null; riders: number; checkpoints: string | null }[];
    return rows.map(({ orgs, checkpoints, ...r }) => ({ ...r, orgIds: orgs ? orgs.split(' ') : [], checkpoints: checkpoints ? checkpoints.split(' ') : [] }));
  }

  /**
   * Sets who rides a route (the whole list). Each rider must be on the worker list of an organisation
   * the route serves; all or nothing. The kiosks of the bus checkpoints linked to the route get their
   * new roster as a fresh snapshot, so a rider taken off the route reaches them as a removal.
   */
  setRouteRiders(routeIdText: string, workerIds: readonly string[]): { riders: number; added: number; removed: number } {
    const routeId = this.checkId(routeIdText, 'route id');
    return this.db
      .transaction(() => {
        if (!this.db.prepare('SELECT 1 FROM routes WHERE route_id = ?').get(routeId)) throw new RegistryError(`no route ${routeId} (add it with \`safegate hub route add\`)`);
        const served = new Set((this.db.prepare('SELECT org_id FROM route_orgs WHERE route_id = ?').all(routeId) as { org_id: string }[]).map((o) => o.org_id));
        const ownerOf = this.db.prepare('SELECT org_id FROM hub_workers WHERE worker_id = ?');
        const problems: string[] = [];
        const riders = [...new Set(workerIds)];
        for (const w of riders) {
          const owner = (ownerOf.get(w) as { org_id: string } | undefined)?.org_id;
          if (owner === undefined) problems.push(`${w}: on no organisation's worker list`);
          else if (!served.has(owner)) problems.push(`${w}: a worker of ${owner}, which route ${routeId} does not serve`);
        }
        if (problems.length) throw new RegistryError(`riders refused, nothing changed:\n${problems.slice(0, 50).join('\n')}${problems.length > 50 ? `\n... and ${problems.length - 50} more` : ''}`);
        const held = new Set((this.db.prepare('SELECT worker_id FROM route_riders WHERE route_id = ?').all(routeId) as { worker_id: string }[]).map((r) => r.worker_id));
        const added = riders.filter((w) => !held.has(w));
        const removed = [...held].filter((w) => !riders.includes(w));
        const ins = this.db.prepare('INSERT INTO route_riders (route_id, worker_id) VALUES (?, ?)');
        const del = this.db.prepare('DELETE FROM route_riders WHERE route_id = ? AND worker_id = ?');
        for (const w of added) ins.run(routeId, w);
        for (const w of removed) del.run(routeId, w);
        if (added.length + removed.length > 0) {
          const devices = this.db
            .prepare('SELECT d.device_id FROM device_sites d JOIN checkpoint_routes c ON c.checkpoint_id = d.checkpoint_id WHERE c.route_id = ?')
            .all(routeId) as { device_id: string }[];
          this.rescope(devices.map((d) => d.device_id));
        }
        return { riders: riders.length, added: added.length, removed: removed.length };
      })
      .immediate();
  }

  /** Links a bus checkpoint to the routes it rides (all of them): its kiosks receive those routes' riders. */
  setCheckpointRoutes(checkpointIdText: string, routeIds: readonly string[]): void {
    const id = this.checkId(checkpointIdText, 'checkpoint id');
    const routes = [...new Set(routeIds.map((r) => this.checkId(r, 'route id')))];
    this.db
      .transaction(() => {
        const cp = this.db.prepare('SELECT kind FROM checkpoints WHERE checkpoint_id = ?').get(id) as { kind: string } | undefined;
        if (!cp) throw new RegistryError(`no checkpoint ${id} (add it with \`safegate hub checkpoint add\`)`);
        if (cp.kind !== 'bus') throw new RegistryError(`checkpoint ${id} is a ${cp.kind}, not a bus: only a bus checkpoint rides routes`);
        for (const r of routes) if (!this.db.prepare('SELECT 1 FROM routes WHERE route_id = ?').get(r)) throw new RegistryError(`no route ${r} (add it with \`safegate hub route add\`)`);
        const devices = (this.db.prepare('SELECT device_id FROM device_sites WHERE checkpoint_id = ?').all(id) as { device_id: string }[]).map((d) => d.device_id);
        this.rescoping(devices, () => {
          this.db.prepare('DELETE FROM checkpoint_routes WHERE checkpoint_id = ?').run(id);
          const ins = this.db.prepare('INSERT INTO checkpoint_routes (checkpoint_id, route_id) VALUES (?, ?)');
          for (const r of routes) ins.run(id, r);
        });
      })
      .immediate();
  }

  // ---- sites: which devices share a live site stream ------------------------------------------

  /** Puts devices in a site (moving them from another one if need be); returns how many changed. */
  assignSite(siteId: string, deviceIds: readonly string[], nowMs = Date.now()): number {
    const site = identifierSchema.parse(siteId);
    const devices = deviceIds.map((d) => deviceIdSchema.parse(d));
    const put = this.db.prepare(
      // A device moved to another site leaves its checkpoint (which is at the old site).
      'INSERT INTO device_sites (device_id, site_id, since_ms) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET site_id = excluded.site_id, since_ms = excluded.since_ms, checkpoint_id = NULL WHERE site_id <> excluded.site_id',
    );
    // A site first named here has no organisation yet (`safegate hub site add --org` gives it one).
    const name = this.db.prepare('INSERT OR IGNORE INTO sites (site_id, org_id, name, created_ms) VALUES (?, NULL, ?, ?)');
    return this.db
      .transaction(() => {
        name.run(site, site, nowMs);
        return this.rescoping(devices, () => devices.reduce((n, d) => n + put.run(d, site, nowMs).changes, 0));
      })
      .immediate();
  }

  /**
   * Puts devices at a checkpoint, and so in its site (moving them from another one if need be);
   * returns how many changed.
   */
  placeDevices(checkpointId: string, deviceIds: readonly string[], nowMs = Date.now()): number {
    const id = this.checkId(checkpointId, 'checkpoint id');
    const devices = deviceIds.map((d) => {
      const r = deviceIdSchema.safeParse(d);
      if (!r.success) throw new RegistryError(`device id ${JSON.stringify(d)}: ${r.error.issues[0]?.message ?? 'not a device id'}`);
      return r.data;
    });
    const put = this.db.prepare(
      `INSERT INTO device_sites (device_id, site_id, since_ms, checkpoint_id) VALUES (@device, @site, @now, @checkpoint)
       ON CONFLICT (device_id) DO UPDATE SET
         since_ms = CASE WHEN site_id = excluded.site_id THEN since_ms ELSE excluded.since_ms END,
         site_id = excluded.site_id, checkpoint_id = excluded.checkpoint_id
       WHERE site_id <> excluded.site_id OR checkpoint_id IS NOT excluded.checkpoint_id`,
    );
    return this.db
      .transaction(() => {
        const cp = this.db.prepare('SELECT site_id FROM checkpoints WHERE checkpoint_id = ?').get(id) as { site_id: string } | undefined;
        if (!cp) throw new RegistryError(`no checkpoint ${id} (add it with \`safegate hub checkpoint add\`)`);
        return this.rescoping(devices, () => devices.reduce((n, device) => n + put.run({ device, site: cp.site_id, now: nowMs, checkpoint: id }).changes, 0));
      })
      .immediate();
  }

  /** Takes devices out of their site: they receive no site stream any more. */
  unassignSite(deviceIds: readonly string[]): number {
    const del = this.db.prepare('DELETE FROM device_sites WHERE device_id = ?');
    return this.db.transaction(() => this.rescoping(deviceIds, () => deviceIds.reduce((n, d) => n + del.run(d).changes, 0))).immediate();
  }

  /** The site a device belongs to, if the operator put it in one. */
  siteOf(deviceId: string): string | undefined {
    return (this.db.prepare('SELECT site_id FROM device_sites WHERE device_id = ?').get(deviceId) as { site_id: string } | undefined)?.site_id;
  }

  /** Every site with its devices, in order. */
  sites(): Map<string, string[]> {
    const rows = this.db.prepare('SELECT site_id, device_id FROM device_sites ORDER BY site_id, device_id').all() as { site_id: string; device_id: string }[];
    const out = new Map<string, string[]>();
    for (const r of rows) {
      const list = out.get(r.site_id);
      if (list) list.push(r.device_id);
      else out.set(r.site_id, [r.device_id]);
    }
    return out;
  }

  /** The devices of one site. */
  siteMembers(siteId: string): string[] {
    return (this.db.prepare('SELECT device_id FROM device_sites WHERE site_id = ? ORDER BY device_id').all(siteId) as { device_id: string }[]).map((r) => r.device_id);
  }

  // ---- registry: organisations, their sites, checkpoints and worker lists -------------------

  /** Registers an organisation (a company, an agency or a market); its id is what commands and uploads name it by. */
  addOrganisation(o: { id: string; name: string; kind: OrganisationKind }, nowMs = Date.now()): void {
    const id = this.checkId(o.id, 'organisation id');
    const name = this.checkName(o.name);
    if (!(ORGANISATION_KINDS as readonly string[]).includes(o.kind)) throw new RegistryError(`organisation kind "${o.kind}": expected ${ORGANISATION_KINDS.join(', ')}`);
    const done = this.db.prepare('INSERT INTO organisations (org_id, name, kind, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(id, name, o.kind, nowMs);
    if (done.changes === 0) throw new RegistryError(`organisation ${id} already exists`);
  }

  /** Every organisation, by id, with its number of sites and workers and its list's age. */
  organisations(): Organisation[] {
    const rows = this.db
      .prepare(
        `SELECT o.org_id AS id, o.name, o.kind,
           (SELECT count(*) FROM sites s WHERE s.org_id = o.org_id) AS sites,
           (SELECT count(*) FROM hub_workers w WHERE w.org_id = o.org_id) AS workers,
           u.uploaded_ms AS listUploadedAtMs
         FROM organisations o LEFT JOIN org_uploads u ON u.org_id = o.org_id ORDER BY o.org_id`,
      )
      .all() as Organisation[];
    return rows;
  }

  /**
   * Registers a site of an organisation. A site named before organisations existed (devices were
   * assigned to it) is given to the organisation, keeping its devices; a site of another
   * organisation is refused.
   */
  addSite(s: { id: string; orgId: string; name?: string }, nowMs = Date.now()): 'added' | 'claimed' {
    const id = this.checkId(s.id, 'site id');
    const orgId = this.requireOrganisation(s.orgId);
    const name = s.name === undefined ? id : this.checkName(s.name);
    return this.db
      .transaction(() => {
        const held = this.db.prepare('SELECT org_id FROM sites WHERE site_id = ?').get(id) as { org_id: string | null } | undefined;
        if (held?.org_id) throw new RegistryError(held.org_id === orgId ? `site ${id} already exists` : `site ${id} belongs to another organisation (${held.org_id})`);
        if (held) {
          this.db.prepare('UPDATE sites SET org_id = ?, name = ? WHERE site_id = ?').run(orgId, s.name === undefined ? id : name, id);
          return 'claimed' as const;
        }
        this.db.prepare('INSERT INTO sites (site_id, org_id, name, created_ms) VALUES (?, ?, ?, ?)').run(id, orgId, name, nowMs);
        return 'added' as const;
      })
      .immediate();
  }

  /** Every site (of one organisation when given), by id. */
  registeredSites(orgId?: string): RegisteredSite[] {
    const org = orgId === undefined ? undefined : this.requireOrganisation(orgId);
    return this.db
      .prepare(
        `SELECT s.site_id AS id, s.org_id AS orgId, s.name,
           (SELECT count(*) FROM device_sites d WHERE d.site_id = s.site_id) AS devices,
           (SELECT count(*) FROM checkpoints c WHERE c.site_id = s.site_id) AS checkpoints
         FROM sites s WHERE @org IS NULL OR s.org_id = @org ORDER BY s.site_id`,
      )
      .all({ org: org ?? null }) as RegisteredSite[];
  }

  /** Registers a checkpoint at a site; it serves the site's organisation unless others are named. */
  addCheckpoint(c: { id: string; siteId: string; name?: string; kind: CheckpointKind; orgIds?: readonly string[] }, nowMs = Date.now()): void {
    const id = this.checkId(c.id, 'checkpoint id');
    const siteId = this.checkId(c.siteId, 'site id');
    const name = c.name === undefined ? id : this.checkName(c.name);
    if (!(CHECKPOINT_KINDS as readonly string[]).includes(c.kind)) throw new RegistryError(`checkpoint kind "${c.kind}": expected ${CHECKPOINT_KINDS.join(', ')}`);
    this.db
      .transaction(() => {
        const site = this.db.prepare('SELECT org_id FROM sites WHERE site_id = ?').get(siteId) as { org_id: string | null } | undefined;
        if (!site) throw new RegistryError(`no site ${siteId} (add it with \`safegate hub site add\`)`);
        const orgIds = [...new Set(c.orgIds?.length ? c.orgIds.map((o) => this.requireOrganisation(o)) : site.org_id ? [site.org_id] : [])];
        if (orgIds.length === 0) throw new RegistryError(`site ${siteId} has no organisation: name the organisations checkpoint ${id} serves`);
        if (this.db.prepare('INSERT INTO checkpoints (checkpoint_id, site_id, name, kind, created_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(id, siteId, name, c.kind, nowMs).changes === 0) {
          throw new RegistryError(`checkpoint ${id} already exists`);
        }
        const serve = this.db.prepare('INSERT INTO checkpoint_orgs (checkpoint_id, org_id) VALUES (?, ?)');
        for (const o of orgIds) serve.run(id, o);
      })
      .immediate();
  }

  /**
   * Sets the organisations a checkpoint serves (at least one). Its devices get the new set's workers
   * as a fresh snapshot at their next download, so an organisation taken off reaches them as removals.
   */
  setCheckpointOrganisations(checkpointId: string, orgIdsText: readonly string[]): { added: string[]; removed: string[] } {
    const id = this.checkId(checkpointId, 'checkpoint id');
    const orgIds = [...new Set(orgIdsText.map((o) => this.requireOrganisation(o)))].sort();
    if (orgIds.length === 0) throw new RegistryError(`name at least one organisation checkpoint ${id} serves`);
    return this.db
      .transaction(() => {
        if (!this.db.prepare('SELECT 1 FROM checkpoints WHERE checkpoint_id = ?').get(id)) throw new RegistryError(`no checkpoint ${id} (add it with \`safegate hub checkpoint add\`)`);
        const held = (this.db.prepare('SELECT org_id FROM checkpoint_orgs WHERE checkpoint_id = ?').all(id) as { org_id: string }[]).map((r) => r.org_id);
        const devices = (this.db.prepare('SELECT device_id FROM device_sites WHERE checkpoint_id = ?').all(id) as { device_id: string }[]).map((r) => r.device_id);
        const added = orgIds.filter((o) => !held.includes(o));
        const removed = held.filter((o) => !orgIds.includes(o)).sort();
        this.rescoping(devices, () => {
          const del = this.db.prepare('DELETE FROM checkpoint_orgs WHERE checkpoint_id = ? AND org_id = ?');
          const ins = this.db.prepare('INSERT INTO checkpoint_orgs (checkpoint_id, org_id) VALUES (?, ?)');
          for (const o of removed) del.run(id, o);
          for (const o of added) ins.run(id, o);
        });
        return { added, removed };
      })
      .immediate();
  }

  /** Every checkpoint (at one site when given), by id, with the organisations it serves. */
  checkpoints(siteId?: string): RegisteredCheckpoint[] {
    const rows = this.db
      .prepare(
        `SELECT c.checkpoint_id AS id, c.site_id AS siteId, c.name, c.kind,
           (SELECT group_concat(o.org_id, ' ') FROM checkpoint_orgs o WHERE o.checkpoint_id = c.checkpoint_id) AS orgs,
           (SELECT group_concat(d.device_id, ' ') FROM device_sites d WHERE d.checkpoint_id = c.checkpoint_id) AS devices
         FROM checkpoints c WHERE @site IS NULL OR c.site_id = @site ORDER BY c.checkpoint_id`,
      )
      .all({ site: siteId ?? null }) as (Omit<RegisteredCheckpoint, 'orgIds' | 'devices'> & { orgs: string | null; devices: string | null })[];
    return rows.map(({ orgs, devices, ...c }) => ({ ...c, orgIds: orgs ? orgs.split(' ').sort() : [], devices: devices ? devices.split(' ').sort() : [] }));
  }

  /**
   * Takes an organisation's worker list as the truth for that organisation only: its workers not
   * on the list are removed (tombstones, as removeWorkers), other organisations' workers are never
   * touched. All or nothing: a worker of another organisation or a site that is not the
   * organisation's refuses the whole list, each problem with its line. Kiosks get the decision
   * fields only; ID number, phone and residence stay in hub-only storage. A worker already on the
   * roster keeps what the health side set (case status, quarantine, declaration).
   */
  uploadWorkers(orgIdText: string, list: readonly ListedWorker[], options: { siteId?: string; nowMs?: number } = {}): { rev: number; changed: number; removed: number; workers: number } {
    const orgId = this.requireOrganisation(orgIdText);
    const nowMs = options.nowMs ?? Date.now();
    return this.db
      .transaction(() => {
        const org = this.db.prepare('SELECT name FROM organisations WHERE org_id = ?').get(orgId) as { name: string };
        const ownSites = new Set(this.registeredSites(orgId).map((s) => s.id));
        let defaultSite: string | undefined;
        if (options.siteId !== undefined) {
          if (!ownSites.has(options.siteId)) throw new RegistryError(`site ${options.siteId} is not a site of ${orgId}`);
          defaultSite = options.siteId;
        } else if (ownSites.size === 1) defaultSite = [...ownSites][0];
        const problems: ListProblem[] = [];
        const ownerOf = this.db.prepare('SELECT org_id FROM hub_workers WHERE worker_id = ?');
        const onProvinceList = this.db.prepare("SELECT 1 FROM records WHERE stream = 'roster' AND key = ? AND deleted = 0 AND scope = ''");
        for (const w of list) {
          const site = w.siteId ?? defaultSite;
          if (site === undefined)
            problems.push(
              ownSites.size
                ? listProblem(w.line, 'registry.siteNeeded', `site: ${orgId} has ${ownSites.size} sites; name the site in a site column or with --site`, { org: orgId, sites: ownSites.size })
                : listProblem(w.line, 'registry.noSite', `${orgId} has no site yet (add one with \`safegate hub site add\`)`, { org: orgId }),
            );
          else if (!ownSites.has(site)) problems.push(listProblem(w.line, 'registry.foreignSite', `site: ${site} is not a site of ${orgId}`, { site, org: orgId }));
          const owner = (ownerOf.get(w.workerId) as { org_id: string } | undefined)?.org_id;
          if (owner !== undefined && owner !== orgId) problems.push(listProblem(w.line, 'registry.otherOrganisation', `worker id ${w.workerId} is on another organisation's list`, { workerId: w.workerId }));
          // A worker on the province-wide list (the health side's) is not an organisation's to take over.
          else if (owner === undefined && onProvinceList.get(w.workerId))
            problems.push(listProblem(w.line, 'registry.provinceList', `worker id ${w.workerId} is on the province-wide list (safegate hub roster import); it cannot be taken onto an organisation's list`, { workerId: w.workerId }));
        }
        if (problems.length) throw new WorkerListError(problems);

        const held = this.db.prepare("SELECT value FROM records WHERE stream = 'roster' AND key = ? AND deleted = 0");
        const records = list.map((w): WorkerRecord => {
          const old = held.get(w.workerId) as { value: string } | undefined;
          const kept = old ? (JSON.parse(old.value) as WorkerRecord) : undefined;
          return {
            workerId: w.workerId,
            displayName: w.fullName,
            company: org.name,
            team: w.team,
            declaredAt: kept?.declaredAt ?? null,
            declarationFlagged: kept?.declarationFlagged ?? false,
            testResult: w.testResult,
            testedAt: w.testedAtMs,
            vaccineDoses: w.vaccineDoses,
            quarantineUntil: kept?.quarantineUntil ?? null,
            caseStatus: kept?.caseStatus ?? 'none',
            orgId,
            // Checked above: every listed worker has a site of the organisation.
            siteId: (w.siteId ?? defaultSite)!,
          };
        });
        const put = this.putRecords('roster', records.map((r) => [r.workerId, r, orgId] as const), false);
        const listed = new Set(list.map((w) => w.workerId));
        const gone = (this.db.prepare('SELECT worker_id FROM hub_workers WHERE org_id = ?').all(orgId) as { worker_id: string }[]).map((r) => r.worker_id).filter((id) => !listed.has(id));
        // Removals take the upload's revision, so a kiosk gets one upload as one change.
        const rev = put.changed ? put.rev : this.revision('roster') + 1;
        const removed = this.forgetWorkers(gone, rev);
        const keep = this.db.prepare(
          `INSERT INTO hub_workers (worker_id, org_id, site_id, team, full_name, birth_year, sex, id_number, phone, residence, uploaded_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (worker_id) DO UPDATE SET org_id = excluded.org_id, site_id = excluded.site_id, team = excluded.team, full_name = excluded.full_name,
             birth_year = excluded.birth_year, sex = excluded.sex, id_number = excluded.id_number, phone = excluded.phone, residence = excluded.residence,
             uploaded_ms = excluded.uploaded_ms`,
        );
        for (const w of list) keep.run(w.workerId, orgId, w.siteId ?? defaultSite, w.team, w.fullName, w.birthYear, w.sex, w.idNumber, w.phone, w.residence, nowMs);
        this.db
          .prepare('INSERT INTO org_uploads (org_id, uploaded_ms, workers) VALUES (?, ?, ?) ON CONFLICT (org_id) DO UPDATE SET uploaded_ms = excluded.uploaded_ms, workers = excluded.workers')
          .run(orgId, nowMs, list.length);
        this.db.prepare('INSERT INTO org_list_uploads (org_id, uploaded_ms, workers) VALUES (?, ?, ?)').run(orgId, nowMs, list.length);
        return { rev: removed ? rev : put.rev, changed: put.changed, removed, workers: list.length };
      })
      .immediate();
  }

  /**
   * A worker's health declaration (sync/hub/declarations.ts) into their roster record, so each of
   * their kiosks gets its time and flag at its next download; one older than what the record holds
   * changes nothing. Returns the sites whose kiosks serve the worker (their own site, the sites of
   * checkpoints serving their organisation and of the buses they ride; every site for a worker on no
   * organisation's list), for
   * the live site stream, or undefined for a worker not on the roster.
   */
  recordDeclaration(workerId: string, declaredAtMs: number, flagged: boolean): { changed: boolean; sites: string[] } | undefined {
    return this.db
      .transaction(() => {
        const held = this.db.prepare("SELECT value, scope FROM records WHERE stream = 'roster' AND key = ? AND deleted = 0").get(workerId) as { value: string; scope: string } | undefined;
        if (!held) return undefined;
        const record = JSON.parse(held.value) as WorkerRecord;
        const newer = record.declaredAt === null || record.declaredAt < declaredAtMs;
        const changed = newer && this.putRecords('roster', [[workerId, { ...record, declaredAt: declaredAtMs, declarationFlagged: flagged }, held.scope]], false).changed > 0;
        const listed = this.db.prepare('SELECT org_id, site_id FROM hub_workers WHERE worker_id = ?').get(workerId) as { org_id: string; site_id: string } | undefined;
        const sites = listed
          ? (
              this.db
                .prepare(
                  `SELECT ? AS site_id
                   UNION SELECT c.site_id FROM checkpoints c JOIN checkpoint_orgs o ON o.checkpoint_id = c.checkpoint_id WHERE o.org_id = ?
                   UNION SELECT c.site_id FROM checkpoints c JOIN checkpoint_routes r ON r.checkpoint_id = c.checkpoint_id JOIN route_riders rr ON rr.route_id = r.route_id WHERE rr.worker_id = ?
                   ORDER BY site_id`,
                )
                .all(listed.site_id, listed.org_id, workerId) as { site_id: string }[]
            ).map((r) => r.site_id)
          : [...this.sites().keys()].sort();
        return { changed, sites };
      })
      .immediate();
  }

  /** Each organisation's standing against CV 2242 at `nowMs` (by id), for `hub org list` and the console. */
  listCompliance(nowMs: number, zone: string): ListCompliance[] {
    const dayStart = startOfDayIn(nowMs, zone);
    const deadline = timeOfDayIn(nowMs, TEST_RESULTS_DEADLINE, zone);
    const rows = this.db
      .prepare(
        `SELECT o.org_id AS orgId,
           (SELECT max(uploaded_ms) FROM org_list_uploads u WHERE u.org_id = o.org_id AND u.uploaded_ms <= @now) AS lastMs,
           EXISTS (SELECT 1 FROM org_list_uploads u WHERE u.org_id = o.org_id AND u.uploaded_ms >= @dayStart AND u.uploaded_ms <= min(@deadline, @now)) AS inTime,
           EXISTS (SELECT 1 FROM org_list_uploads u WHERE u.org_id = o.org_id AND u.uploaded_ms > @deadline AND u.uploaded_ms <= @now) AS after
         FROM organisations o ORDER BY o.org_id`,
      )
      .all({ now: nowMs, dayStart, deadline }) as { orgId: string; lastMs: number | null; inTime: number; after: number }[];
    return rows.map((r) => {
      const listAgeMs = r.lastMs === null ? null : nowMs - r.lastMs;
      const todaysList = r.inTime ? 'before-deadline' : r.after ? 'late' : nowMs <= deadline ? 'not-yet' : 'missing';
      return { orgId: r.orgId, listAgeMs, todaysList, outOfCompliance: listAgeMs === null || listAgeMs > LIST_MAX_AGE_MS };
    });
  }

  /** What the hub keeps about one worker for the law (CV 2242), never sent to kiosks. */
  hubOnlyWorker(workerId: string): { orgId: string; siteId: string; team: string; fullName: string; birthYear: number | null; sex: string | null; idNumber: string | null; phone: string | null; residence: string | null } | undefined {
    return this.db
      .prepare(
        'SELECT org_id AS orgId, site_id AS siteId, team, full_name AS fullName, birth_year AS birthYear, sex, id_number AS idNumber, phone, residence FROM hub_workers WHERE worker_id = ?',
      )
      .get(workerId) as ReturnType<HubDirectory['hubOnlyWorker']>;
  }

  // ---- console reads: scoped by the organisation they are given, never ID number, phone or residence ----

  /** Whether an organisation is registered (a manager account names one). */
  hasOrganisation(orgId: string): boolean {
    return this.db.prepare('SELECT 1 FROM organisations WHERE org_id = ?').get(orgId) !== undefined;
  }

  /**
   * Uploaded workers whose name, team or id contains `text` (of one organisation when `orgId` is
   * given), by name: what a list shows, never ID number, phone or residence.
   */
  searchWorkers(orgId: string | undefined, text: string, limit: number): { workerId: string; orgId: string; siteId: string; team: string; fullName: string }[] {
    const like = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.db
      .prepare(
        `SELECT worker_id AS workerId, org_id AS orgId, site_id AS siteId, team, full_name AS fullName FROM hub_workers
         WHERE (@org IS NULL OR org_id = @org) AND (full_name LIKE @like ESCAPE '\\' OR team LIKE @like ESCAPE '\\' OR worker_id LIKE @like ESCAPE '\\')
         ORDER BY full_name, worker_id LIMIT @limit`,
      )
      .all({ org: orgId ?? null, like, limit }) as ReturnType<HubDirectory['searchWorkers']>;
  }

  /** The organisation of each of these workers that is on an uploaded list. */
  organisationsOf(workerIds: readonly string[]): Map<string, string> {
    const get = this.db.prepare('SELECT org_id FROM hub_workers WHERE worker_id = ?');
    const out = new Map<string, string>();
    for (const id of new Set(workerIds)) {
      const r = get.get(id) as { org_id: string } | undefined;
      if (r) out.set(id, r.org_id);
    }
    return out;
  }

  /** The notices published and not withdrawn (expired ones included), by start. */
  notices(): Notice[] {
    const rows = this.db.prepare("SELECT value FROM records WHERE stream = 'notices' AND deleted = 0").all() as { value: string }[];
    return rows.map((r) => JSON.parse(r.value) as Notice).sort((a, b) => b.startsAtMs - a.startsAtMs);
  }

  private requireOrganisation(orgId: string): string {
    const id = this.checkId(orgId, 'organisation id');
    if (!this.db.prepare('SELECT 1 FROM organisations WHERE org_id = ?').get(id)) throw new RegistryError(`no organisation ${id} (add it with \`safegate hub org add\`)`);
    return id;
  }

  private checkId(value: string, what: string): string {
    const r = identifierSchema.safeParse(value);
    if (!r.success) throw new RegistryError(`${what} ${JSON.stringify(value)}: ${r.error.issues[0]?.message ?? 'not an identifier'}`);
    return r.data;
  }

  private checkName(value: string): string {
    const r = registryNameSchema.safeParse(value);
    if (!r.success) throw new RegistryError(r.error.issues[0]?.message ?? 'not a name');
    return r.data;
  }

  close(): void {
    this.db.close();
  }
}
