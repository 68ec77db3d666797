import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { keyIdOf, keyIdText } from '../../base/node/keys.js';
import type { KeyRole } from '../../base/common/key-roles.js';
import type { Migration } from '../../base/node/sqlite.js';
import type { DccSignerRecord, Notice, Placement, WorkerRecord } from '../../base/common/types.js';
import { dccSignerSchema, hubKeySchema, hubSupervisorSchema, noticeSchema, policyDocumentSchema, revocationSchema, sealDownlink, streamCodecs, type DownlinkPart, type StreamCodec } from '../downlink-codec.js';
import { PROTOCOL_VERSION, type DownlinkStream, type SyncRequest } from '../protocol.js';
import { deviceIdSchema, identifierSchema } from '../../base/common/ids.js';
import { DEFAULT_TIME_ZONE, startOfDayIn, timeOfDayIn } from '../../base/common/time.js';
import { replacesDeclaration } from '../../base/common/declaration.js';
import { sql, type RawBuilder } from 'kysely';
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
import * as m0016 from './directory-migrations/0016-alerts.js';
import * as m0017 from './directory-migrations/0017-traces.js';
import * as m0018 from './directory-migrations/0018-reports.js';
import * as m0019 from './directory-migrations/0019-alert-counter-leases.js';
import * as m0020 from './directory-migrations/0020-device-placements.js';
import * as m0021 from './directory-migrations/0021-fleet.js';
import * as m0022 from './directory-migrations/0022-device-settings.js';
import * as m0023 from './directory-migrations/0023-revocations.js';
import * as m0024 from './directory-migrations/0024-enrol-retry.js';
import * as m0025 from './directory-migrations/0025-declaration-clearances.js';
import { DIRECTORY_PG_MIGRATIONS } from './directory-pg-migrations.js';
import { chunksOf, greatest, inList, isAnyOf, openHubSql, type HubSql, type HubSqlExecutor, type HubSqlSchema, type HubSqlTarget } from './hub-sql.js';
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
  { version: 16, name: '0016-alerts', up: m0016.up },
  { version: 17, name: '0017-traces', up: m0017.up },
  { version: 18, name: '0018-reports', up: m0018.up },
  { version: 19, name: '0019-alert-counter-leases', up: m0019.up },
  { version: 20, name: '0020-device-placements', up: m0020.up },
  { version: 21, name: '0021-fleet', up: m0021.up },
  { version: 22, name: '0022-device-settings', up: m0022.up },
  { version: 23, name: '0023-revocations', up: m0023.up },
  { version: 24, name: '0024-enrol-retry', up: m0024.up },
  { version: 25, name: '0025-declaration-clearances', up: m0025.up },
] as const satisfies readonly Migration[];

/** The directory's database: these SQLite steps on a file, DIRECTORY_PG_MIGRATIONS on PostgreSQL (DATABASE_URL). */
export const DIRECTORY_SCHEMA: HubSqlSchema = { name: 'directory', sqlite: DIRECTORY_MIGRATIONS, postgres: DIRECTORY_PG_MIGRATIONS };

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
/**
 * Records per part of the `dcc` stream: a signer carries up to 8 KiB of certificate (about 11 KB in
 * base64), so 256 of them stay under the kiosk's 4 MiB part limit.
 */
export const DCC_PART_SIZE = 256;

/** One statement runner: the directory's handle, or the transaction a write runs in. */
type Db = HubSqlExecutor;

/** Identifiers, keys and site ids in byte order, whatever the PostgreSQL server's collation (SQLite's is already). */
function inByteOrder(db: Db): RawBuilder<unknown> {
  return db.dialect === 'postgres' ? sql.raw(' COLLATE "C"') : sql.raw('');
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Rows per multi-row INSERT (SQLite binds at most 32,766 parameters in one statement, PostgreSQL 65,535). */
const ROWS_PER_INSERT = 500;

async function revisionOf(db: Db, stream: string): Promise<number> {
  const r = await db.get<{ rev: number }>(sql`SELECT rev FROM stream_revisions WHERE stream = ${stream}`);
  return r?.rev ?? 0;
}

async function bump(db: Db, stream: string, rev: number): Promise<void> {
  await db.run(sql`INSERT INTO stream_revisions (stream, rev) VALUES (${stream}, ${rev}) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev`);
}

/** Rows of `query(chunk)` for every chunk of a long list of keys. */
async function allIn<R>(db: Db, values: readonly string[], query: (list: RawBuilder<unknown>) => RawBuilder<R>): Promise<R[]> {
  const out: R[] = [];
  for (const chunk of chunksOf(values)) out.push(...(await db.all(query(inList(chunk)))));
  return out;
}

/** A worker's hub-only data (CV 2242), never sent to kiosks. */
export interface HubOnlyWorker {
  orgId: string;
  siteId: string;
  team: string;
  fullName: string;
  birthYear: number | null;
  sex: string | null;
  idNumber: string | null;
  phone: string | null;
  residence: string | null;
}

/**
 * The hub's published data (roster, notices, revocations, policy) with revisions, and the transfers
 * it answers with, in the directory's database (a SQLite file, or PostgreSQL shared by several hub
 * processes). Every change that reads a revision and writes the next runs in `sql.write`, one writer
 * at a time across processes.
 */
export class HubDirectory {
  /** Only stores the handle: `open` opens (and migrates) the database. */
  private constructor(readonly sql: HubSql) {}

  /** Opens the directory's database (migrating it); whoever opens it closes it. */
  static async open(target: HubSqlTarget): Promise<HubDirectory> {
    return new HubDirectory(await openHubSql(target, DIRECTORY_SCHEMA, { busyTimeoutMs: 5_000 }));
  }

  async revision(stream: string): Promise<number> {
    return revisionOf(this.sql, stream);
  }

  /**
   * Takes a roster (e.g. from a CSV) as the new truth for the records it names; with `replace`, every
   * other worker is removed, except those on an organisation's uploaded list (an organisation's
   * workers change only by its own upload or by name). Unchanged records keep their revision, so
   * kiosks download only changes.
   */
  async importRoster(records: readonly WorkerRecord[], replace: boolean): Promise<{ rev: number; changed: number; removed: number }> {
    return this.sql.write(async (tx) => {
      // A worker on an organisation's list keeps its organisation and site (the list is theirs to change).
      const listed = new Map(
        (
          await allIn(tx, [...new Set(records.map((w) => w.workerId))], (ids) =>
            sql<{ workerId: string; orgId: string; siteId: string }>`SELECT worker_id AS "workerId", org_id AS "orgId", site_id AS "siteId" FROM hub_workers WHERE worker_id IN ${ids}`,
          )
        ).map(({ workerId, ...at }) => [workerId, at]),
      );
      const r = await this.putRecords(
        tx,
        'roster',
        records.map((w) => {
          const { orgId: _o, siteId: _s, ...rest } = w;
          const at = listed.get(w.workerId);
          return [w.workerId, at ? { ...rest, ...at } : rest];
        }),
        replace,
      );
      // A removed worker's hub-only data (ID number, phone, residence) goes with them.
      if (r.removed) await tx.run(sql`DELETE FROM hub_workers WHERE worker_id IN (SELECT key FROM records WHERE stream = 'roster' AND deleted = 1)`);
      return r;
    });
  }

  /**
   * Replaces the HC1 trust list kiosks download (the `dcc` stream) with these signers, in one
   * transaction: a signer not given is removed, an unchanged one keeps its revision (kiosks download
   * only what changed). Each record is checked with the kiosks' own schema first; one they would
   * refuse fails the whole import and changes nothing.
   */
  async replaceDccSigners(signers: readonly DccSignerRecord[]): Promise<{ rev: number; added: number; changed: number; removed: number; unchanged: number }> {
    const checked = signers.map((s) => dccSignerSchema.parse(s));
    return this.sql.write(async (tx) => {
      const held = new Map((await tx.all<{ key: string; value: string }>(sql`SELECT key, value FROM records WHERE stream = 'dcc' AND deleted = 0`)).map((r) => [r.key, r.value]));
      let added = 0;
      let changed = 0;
      for (const s of checked) {
        const old = held.get(s.kid);
        if (old === undefined) added++;
        else if (old !== JSON.stringify(s)) changed++;
      }
      const r = await this.putRecords(tx, 'dcc', checked.map((s) => [s.kid, s] as const), true);
      return { rev: r.rev, added, changed, removed: r.removed, unchanged: checked.length - added - changed };
    });
  }

  /** The HC1 signers kiosks download, by kid. */
  async dccSigners(): Promise<DccSignerRecord[]> {
    const rows = await this.sql.all<{ key: string; value: string }>(sql`SELECT key, value FROM records WHERE stream = 'dcc' AND deleted = 0`);
    return rows.sort((a, b) => byText(a.key, b.key)).map((r) => JSON.parse(r.value) as DccSignerRecord);
  }

  /** Publishes (or replaces) a notice; kiosks keep and show it until it expires. */
  async publishNotice(notice: Notice): Promise<number> {
    // Validated here with the kiosks' own schema: a record they would refuse must never go out.
    const checked = noticeSchema.parse(notice);
    return (await this.sql.write((tx) => this.putRecords(tx, 'notices', [[checked.id, checked]], false))).rev;
  }

  /**
   * Removes workers: kiosks drop them at their next download, and the hub keeps only a tombstone
   * (the id and the revision), never the removed person's name or health record.
   */
  async removeWorkers(workerIds: readonly string[]): Promise<{ rev: number; removed: number }> {
    return this.sql.write(async (tx) => {
      const rev = (await revisionOf(tx, 'roster')) + 1;
      const removed = await this.forgetWorkers(tx, workerIds, rev);
      return { rev: removed ? rev : rev - 1, removed };
    });
  }

  /** Tombstones workers at a revision (their hub-only data goes too); the caller's transaction. */
  private async forgetWorkers(tx: Db, workerIds: readonly string[], rev: number): Promise<number> {
    let removed = 0;
    for (const chunk of chunksOf([...new Set(workerIds)])) {
      removed += await tx.run(sql`UPDATE records SET deleted = 1, value = 'null', rev = ${rev} WHERE stream = 'roster' AND key IN ${inList(chunk)} AND deleted = 0`);
      await tx.run(sql`DELETE FROM hub_workers WHERE worker_id IN ${inList(chunk)}`);
    }
    if (removed) await bump(tx, 'roster', rev);
    await this.dropRiders(tx, workerIds, rev);
    return removed;
  }

  /**
   * Takes workers who left their organisation's list (or the roster) off every route they rode; the
   * kiosks of those routes' bus checkpoints get a fresh snapshot at `rev` (a delta would no longer name
   * them). The caller's transaction.
   */
  private async dropRiders(tx: Db, workerIds: readonly string[], rev: number): Promise<void> {
    const ids = [...new Set(workerIds)];
    const routes = new Set((await allIn(tx, ids, (list) => sql<{ route_id: string }>`SELECT route_id FROM route_riders WHERE worker_id IN ${list}`)).map((r) => r.route_id));
    if (routes.size === 0) return;
    for (const chunk of chunksOf(ids)) await tx.run(sql`DELETE FROM route_riders WHERE worker_id IN ${inList(chunk)}`);
    const devices = await tx.all<{ device_id: string }>(
      sql`SELECT DISTINCT d.device_id FROM device_sites d JOIN checkpoint_routes c ON c.checkpoint_id = d.checkpoint_id WHERE c.route_id IN ${inList([...routes])}`,
    );
    if (devices.length === 0) return;
    for (const chunk of chunksOf(devices, ROWS_PER_INSERT)) {
      await tx.run(
        sql`INSERT INTO device_scopes (device_id, rev) VALUES ${sql.join(chunk.map((d) => sql`(${d.device_id}, ${rev})`))}
            ON CONFLICT (device_id) DO UPDATE SET rev = ${greatest(tx.dialect, sql.ref('device_scopes.rev'), sql.ref('excluded.rev'))}`,
      );
    }
    if ((await revisionOf(tx, 'roster')) < rev) await bump(tx, 'roster', rev);
  }

  /** Revokes a pass by its id (shown by `safegate pass verify`); kiosks refuse it from their next download. */
  async revokePass(passId: string, nowMs = Date.now()): Promise<number> {
    const r = revocationSchema.parse({ passId, revokedAtMs: nowMs });
    return (await this.sql.write((tx) => this.putRecords(tx, 'revocations', [[r.passId, r]], false))).rev;
  }

  /** Publishes a policy document; it must pass the kiosks' own checks and be newer than the last one. */
  async publishPolicy(document: unknown): Promise<number> {
    const value = policyDocumentSchema.parse({ document });
    const version = (document as { version: number }).version;
    return this.sql.write(async (tx) => {
      const held = await tx.get<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'policy' AND key = 'current'`);
      if (held && (JSON.parse(held.value) as { document: { version: number } }).document.version >= version) {
        throw new Error(`policy version ${version} is not newer than the published one`);
      }
      return (await this.putRecords(tx, 'policy', [['current', value]], false)).rev;
    });
  }

  /**
   * Publishes a hub signing key (public half) for one role; kiosks trust it once the transfer is
   * signed by a downlink key they have installed, for at most the role's delivered lifetime.
   */
  async publishKey(publicPem: string, role: KeyRole, notAfterMs?: number): Promise<{ kid: string; rev: number }> {
    const kid = keyIdText(keyIdOf(createPublicKey(publicPem)));
    const value = hubKeySchema.parse({ kid, role, publicPem, ...(notAfterMs !== undefined ? { notAfterMs } : {}) });
    return { kid, rev: (await this.sql.write((tx) => this.putRecords(tx, 'keys', [[kid, value]], false))).rev };
  }

  /** Retires a key that was published here; kiosks stop trusting it. */
  async retireKey(kid: string): Promise<number> {
    return this.tombstone('keys', kid, () => new Error(`no published key ${kid}`));
  }

  async withdrawNotice(id: string): Promise<number> {
    return this.tombstone('notices', id, () => new Error(`no published notice ${id}`));
  }

  /** Removes one live record at the stream's next revision (`missing` when there is none); returns the revision. */
  private async tombstone(stream: DownlinkStream, key: string, missing: () => Error): Promise<number> {
    return this.sql.write(async (tx) => {
      const rev = (await revisionOf(tx, stream)) + 1;
      if ((await tx.run(sql`UPDATE records SET deleted = 1, value = 'null', rev = ${rev} WHERE stream = ${stream} AND key = ${key} AND deleted = 0`)) === 0) throw missing();
      await bump(tx, stream, rev);
      return rev;
    });
  }

  /**
   * Writes records at the stream's next revision. A roster record goes in the scope it is given (an
   * organisation's upload), else in its worker's organisation's, else in the province list's ('');
   * a worker who changes scope leaves a departure behind, so the old scope's kiosks drop them.
   * The caller's transaction. Reads and writes go by chunks of keys (an upload of thousands of
   * workers is a few statements, not a few per worker).
   */
  private async putRecords(
    tx: Db,
    stream: DownlinkStream,
    entries: readonly (readonly [key: string, value: unknown, scope?: string])[],
    replace: boolean,
  ): Promise<{ rev: number; changed: number; removed: number }> {
    const rev = (await revisionOf(tx, stream)) + 1;
    const keys = [...new Set(entries.map(([key]) => key))];
    const held = new Map(
      (await allIn(tx, keys, (list) => sql<{ key: string; value: string; deleted: number; scope: string }>`SELECT key, value, deleted, scope FROM records WHERE stream = ${stream} AND key IN ${list}`)).map(
        (r) => [r.key, r],
      ),
    );
    const unscoped = stream === 'roster' ? [...new Set(entries.filter((e) => e[2] === undefined).map(([key]) => key))] : [];
    const ownerOf = new Map(
      (await allIn(tx, unscoped, (list) => sql<{ worker_id: string; org_id: string }>`SELECT worker_id, org_id FROM hub_workers WHERE worker_id IN ${list}`)).map((r) => [r.worker_id, r.org_id]),
    );
    // Decided entry by entry against what is held (a key named twice: against the first's write), written once per key.
    const puts = new Map<string, { json: string; scope: string }>();
    const departures = new Map<string, { key: string; scope: string }>();
    let changed = 0;
    for (const [key, value, given] of entries) {
      const json = JSON.stringify(value);
      const scope = given ?? (stream === 'roster' ? (ownerOf.get(key) ?? PROVINCE_SCOPE) : PROVINCE_SCOPE);
      const old = held.get(key);
      if (old && old.deleted === 0 && old.value === json && old.scope === scope) continue;
      if (old && old.scope !== scope) departures.set(`${key}\n${old.scope}`, { key, scope: old.scope });
      puts.set(key, { json, scope });
      held.set(key, { key, value: json, deleted: 0, scope });
      changed++;
    }
    for (const chunk of chunksOf([...departures.values()], ROWS_PER_INSERT)) {
      await tx.run(
        sql`INSERT INTO roster_departures (worker_id, scope, rev) VALUES ${sql.join(chunk.map((d) => sql`(${d.key}, ${d.scope}, ${rev})`))}
            ON CONFLICT (worker_id, scope) DO UPDATE SET rev = excluded.rev`,
      );
    }
    for (const chunk of chunksOf([...puts], ROWS_PER_INSERT)) {
      await tx.run(
        sql`INSERT INTO records (stream, key, value, deleted, rev, scope) VALUES ${sql.join(chunk.map(([key, p]) => sql`(${stream}, ${key}, ${p.json}, 0, ${rev}, ${p.scope})`))}
            ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value, deleted = 0, rev = excluded.rev, scope = excluded.scope`,
      );
    }
    let removed = 0;
    if (replace) {
      // An organisation's uploaded workers are replaced by its own uploads only, never by a province-wide import.
      const spare = stream === 'roster' ? sql` AND key NOT IN (SELECT worker_id FROM hub_workers)` : sql.raw('');
      const kept = new Set(keys);
      const live = await tx.all<{ key: string }>(sql`SELECT key FROM records WHERE stream = ${stream} AND deleted = 0${spare}`);
      const gone = live.map((r) => r.key).filter((k) => !kept.has(k));
      for (const chunk of chunksOf(gone)) {
        removed += await tx.run(sql`UPDATE records SET deleted = 1, value = 'null', rev = ${rev} WHERE stream = ${stream} AND key IN ${inList(chunk)} AND deleted = 0`);
      }
    }
    if (changed + removed > 0) await bump(tx, stream, rev);
    return { rev: changed + removed > 0 ? rev : rev - 1, changed, removed };
  }

  /** The parts that bring a kiosk from its cursor to the current revision (unsigned): the whole stream, every scope (tools and tests; the hub answers devices with respondTo). */
  async respond(req: SyncRequest, nowMs: number, partSize = PART_SIZE): Promise<DownlinkPart[]> {
    const out: DownlinkPart[] = [];
    for await (const p of this.respondParts(req, nowMs, partSize)) out.push(p);
    return out;
  }

  /** The same for one device: its roster is its checkpoint's (see rosterScopes). */
  async respondTo(deviceId: string, req: SyncRequest, nowMs: number, partSize = PART_SIZE): Promise<DownlinkPart[]> {
    const out: DownlinkPart[] = [];
    for await (const p of this.respondParts(req, nowMs, partSize, deviceId)) out.push(p);
    return out;
  }

  /**
   * The same, one part at a time, so the hub can send part 1 while it builds part 2. The revision is
   * read before the rows, and the rows in one statement: a snapshot is consistent even while an
   * import runs (a row written after the revision was read may come too, and comes again in the next
   * delta: a kiosk applies it twice, to the same result). For a device, the roster is its scopes only
   * (see rosterScopes); a device whose scopes changed after its cursor gets a snapshot, so it keeps no
   * worker it should no longer have. Without a device: every scope.
   */
  async *respondParts(req: SyncRequest, nowMs: number, partSize = PART_SIZE, deviceId?: string): AsyncGenerator<DownlinkPart> {
    const db = this.sql;
    const current = await revisionOf(db, req.stream);
    const base = { v: PROTOCOL_VERSION, stream: req.stream, issuedAtMs: nowMs } as const;
    if (req.cursor === current) {
      yield { ...base, kind: 'current', from: current, to: current, part: 0, parts: 1, body: [] } satisfies DownlinkPart;
      return;
    }
    // The roster goes by the device's checkpoint, a placement and settings to their own device only, supervisors to their site's devices.
    const own = req.stream === 'placement' || req.stream === 'settings';
    const scoped = deviceId !== undefined && (req.stream === 'roster' || own || req.stream === 'supervisors');
    const site = scoped && req.stream === 'supervisors' ? await this.siteOf(deviceId) : undefined;
    const scopeList = scoped ? (req.stream === 'roster' ? await this.scopesOf(db, deviceId) : own ? [deviceId] : site ? [site] : []) : [];
    // Bound one by one (a checkpoint serves a few organisations), so the scope index is taken.
    const scopeIn = inList(scopeList.map((v) => (v.startsWith(ROUTE_SCOPE) ? v.slice(ROUTE_SCOPE.length) : v)));
    // The revision at which what this device receives of the stream last changed (always at or below current).
    const rescoped = !scoped
      ? 0
      : req.stream === 'roster'
        ? // Its own rescope revision, or the floor every device is held to (device '*', see directory migration 0012).
          ((await db.get<{ rev: number | null }>(sql`SELECT max(rev) AS rev FROM device_scopes WHERE device_id IN (${deviceId}, '*')`))?.rev ?? 0)
        : ((await db.get<{ rev: number }>(sql`SELECT rev FROM device_stream_scopes WHERE device_id = ${deviceId} AND stream = ${req.stream}`))?.rev ?? 0);
    // A kiosk ahead of the hub (the hub's data was reset), holding nothing, or holding another scope's workers gets a snapshot.
    const snapshot = req.cursor === 0 || req.cursor > current || req.cursor < rescoped;
    // A bus checkpoint linked to routes receives their riders (scopes 'route:<id>'), every other one its organisations' workers.
    const byRoute = scoped && req.stream === 'roster' && scopeList.some((s) => s.startsWith(ROUTE_SCOPE));
    // A rider counts only while an organisation the route serves lists them (a worker who moved to another one is not sent).
    const inScope = !scoped
      ? sql.raw('')
      : byRoute
        ? sql` AND key IN (SELECT x.worker_id FROM route_riders x JOIN route_orgs o ON o.route_id = x.route_id JOIN hub_workers h ON h.worker_id = x.worker_id AND h.org_id = o.org_id WHERE x.route_id IN ${scopeIn})`
        : sql` AND scope IN ${scopeIn}`;
    type Row = { key: string; value: string; deleted: number };
    const rows = snapshot
      ? await db.all<Row>(sql`SELECT key, value, deleted FROM records WHERE stream = ${req.stream} AND deleted = 0${inScope} ORDER BY key${inByteOrder(db)}`)
      : scoped && req.stream === 'roster' && !byRoute
        ? await db.all<Row>(
            sql`SELECT key, value, deleted FROM records WHERE stream = 'roster' AND rev > ${req.cursor}${inScope}
                UNION ALL
                SELECT d.worker_id AS key, 'null' AS value, 1 AS deleted FROM roster_departures d
                WHERE d.rev > ${req.cursor} AND d.scope IN ${scopeIn}
                  AND NOT EXISTS (SELECT 1 FROM records r WHERE r.stream = 'roster' AND r.key = d.worker_id AND r.scope IN ${scopeIn})`,
          )
        : await db.all<Row>(sql`SELECT key, value, deleted FROM records WHERE stream = ${req.stream} AND rev > ${req.cursor}${inScope}`);
    // A delta is sorted here, not in SQL: an ORDER BY key would make the database walk the whole stream in
    // key order instead of taking the few changed rows by revision. (Identifiers are ASCII: the same order.)
    if (!snapshot) rows.sort((a, b) => byText(a.key, b.key));
    const size = req.stream === 'dcc' ? Math.min(partSize, DCC_PART_SIZE) : partSize;
    const parts = Math.max(1, Math.ceil(rows.length / size));
    const from = snapshot ? 0 : req.cursor;
    const kind = snapshot ? 'snapshot' : 'delta';
    const resume = req.resume && req.resume.to === current && req.resume.parts === parts ? new Set(req.resume.have) : new Set<number>();
    const codec = streamCodecs[req.stream] as StreamCodec<unknown>;
    for (let part = 0; part < parts; part++) {
      if (resume.has(part)) continue;
      const body = rows
        .slice(part * size, (part + 1) * size)
        .map((r) => codec.toWire(r.deleted ? { deleted: true, key: r.key } : { deleted: false, key: r.key, value: JSON.parse(r.value) }));
      yield { ...base, kind, from, to: current, part, parts, body };
    }
  }

  /** Signed, ready to publish, one part at a time: the whole stream (tools and tests). */
  async *respondSigned(req: SyncRequest, nowMs: number, key: KeyObject, partSize = PART_SIZE): AsyncGenerator<Uint8Array> {
    for await (const p of this.respondParts(req, nowMs, partSize)) yield sealDownlink(p, key);
  }

  /** Signed, for the device that asked (the broker's ACL ties the request's topic to its certificate). */
  async *respondSignedTo(deviceId: string, req: SyncRequest, nowMs: number, key: KeyObject, partSize = PART_SIZE): AsyncGenerator<Uint8Array> {
    for await (const p of this.respondParts(req, nowMs, partSize, deviceId)) yield sealDownlink(p, key);
  }

  // ---- roster scopes: which workers each device receives ---------------------------------------

  /** Where a device is (the `placement` stream's record for it), or undefined for a device in no site. */
  async placementOf(deviceId: string): Promise<Placement | undefined> {
    return this.placementIn(this.sql, deviceId);
  }

  private async placementIn(db: Db, deviceId: string): Promise<Placement | undefined> {
    const d = await db.get<{ site_id: string; checkpoint_id: string | null }>(sql`SELECT site_id, checkpoint_id FROM device_sites WHERE device_id = ${deviceId}`);
    if (!d) return undefined;
    // A bus checkpoint serves its own organisations and those of the routes it is linked to.
    const orgIds = d.checkpoint_id
      ? (
          await db.all<{ org_id: string }>(
            sql`SELECT org_id FROM checkpoint_orgs WHERE checkpoint_id = ${d.checkpoint_id}
                UNION SELECT o.org_id FROM checkpoint_routes r JOIN route_orgs o ON o.route_id = r.route_id WHERE r.checkpoint_id = ${d.checkpoint_id}`,
          )
        )
          .map((o) => o.org_id)
          .sort(byText)
      : [];
    return { deviceId, checkpointId: d.checkpoint_id, siteId: d.site_id, orgIds };
  }

  /**
   * The roster scopes a device receives: the organisations its checkpoint serves (for a bus checkpoint
   * linked to routes: those routes' riders); a device at no checkpoint (or unknown) gets the province
   * list only, never an organisation's uploaded workers.
   */
  async rosterScopes(deviceId: string): Promise<string[]> {
    return this.scopesOf(this.sql, deviceId);
  }

  /** Whether a roster worker (their record's scope) is among the workers `scopes` (a device's rosterScopes) receive: the downlink's rule. */
  private async servedIn(db: Db, workerId: string, recordScope: string, scopes: readonly string[]): Promise<boolean> {
    const routes = scopes.filter((s) => s.startsWith(ROUTE_SCOPE)).map((s) => s.slice(ROUTE_SCOPE.length));
    if (!routes.length) return scopes.includes(recordScope);
    const rider = await db.get<{ n: number }>(
      sql`SELECT 1 AS n FROM route_riders x JOIN route_orgs o ON o.route_id = x.route_id JOIN hub_workers h ON h.worker_id = x.worker_id AND h.org_id = o.org_id
          WHERE x.worker_id = ${workerId} AND x.route_id IN ${inList(routes)}`,
    );
    return rider !== undefined;
  }

  private async scopesOf(db: Db, deviceId: string): Promise<string[]> {
    const routes = await db.all<{ route_id: string }>(sql`SELECT r.route_id FROM device_sites d JOIN checkpoint_routes r ON r.checkpoint_id = d.checkpoint_id WHERE d.device_id = ${deviceId}`);
    if (routes.length) return routes.map((r) => r.route_id).sort(byText).map((r) => `${ROUTE_SCOPE}${r}`);
    const orgs = await db.all<{ org_id: string }>(sql`SELECT o.org_id FROM device_sites d JOIN checkpoint_orgs o ON o.checkpoint_id = d.checkpoint_id WHERE d.device_id = ${deviceId}`);
    return orgs.length ? orgs.map((o) => o.org_id).sort(byText) : [PROVINCE_SCOPE];
  }

  /**
   * Runs a change to where devices are or what their checkpoints serve; each device whose scopes it
   * changed gets a fresh snapshot at its next download (the roster revision moves on, and the device's
   * rescope revision with it). The caller's transaction.
   */
  private async rescoping<T>(tx: Db, deviceIds: readonly string[], change: () => Promise<T>): Promise<T> {
    const state = async (d: string) => ({
      scopes: (await this.scopesOf(tx, d)).join(' '),
      placement: JSON.stringify((await this.placementIn(tx, d)) ?? null),
      site: (await this.siteIn(tx, d)) ?? null,
    });
    const before = new Map<string, Awaited<ReturnType<typeof state>>>();
    for (const d of deviceIds) before.set(d, await state(d));
    const result = await change();
    const after = new Map<string, Awaited<ReturnType<typeof state>>>();
    for (const d of deviceIds) after.set(d, await state(d));
    // A device in another site (or none) gets a fresh snapshot of the site's supervisors.
    const moved = deviceIds.filter((d) => after.get(d)!.site !== before.get(d)!.site);
    if (moved.length) {
      const rev = (await revisionOf(tx, 'supervisors')) + 1;
      await bump(tx, 'supervisors', rev);
      for (const d of new Set(moved)) {
        await tx.run(sql`INSERT INTO device_stream_scopes (device_id, stream, rev) VALUES (${d}, 'supervisors', ${rev}) ON CONFLICT (device_id, stream) DO UPDATE SET rev = excluded.rev`);
      }
    }
    const placed = deviceIds.filter((d) => after.get(d)!.placement !== before.get(d)!.placement);
    if (placed.length) {
      const rev = (await revisionOf(tx, 'placement')) + 1;
      for (const d of new Set(placed)) {
        const value = after.get(d)!.placement;
        await tx.run(
          sql`INSERT INTO records (stream, key, value, deleted, rev, scope) VALUES ('placement', ${d}, ${value}, ${value === 'null' ? 1 : 0}, ${rev}, ${d})
              ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value, deleted = excluded.deleted, rev = excluded.rev`,
        );
      }
      await bump(tx, 'placement', rev);
    }
    const changed = deviceIds.filter((d) => after.get(d)!.scopes !== before.get(d)!.scopes);
    if (changed.length) await this.rescope(tx, changed);
    return result;
  }

  /** Gives devices a fresh roster snapshot at their next download (their riders changed). The caller's transaction. */
  private async rescope(tx: Db, deviceIds: readonly string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    const rev = (await revisionOf(tx, 'roster')) + 1;
    await bump(tx, 'roster', rev);
    for (const chunk of chunksOf([...new Set(deviceIds)], ROWS_PER_INSERT)) {
      await tx.run(sql`INSERT INTO device_scopes (device_id, rev) VALUES ${sql.join(chunk.map((d) => sql`(${d}, ${rev})`))} ON CONFLICT (device_id) DO UPDATE SET rev = excluded.rev`);
    }
  }

  // ---- hub supervisors: accounts with a kiosk PIN, sent to the kiosks of their site ---------------

  /**
   * Adds a supervisor of a site, given their PIN's hash (scrypt, see src-main/core/supervisor/pin.ts
   * hashPinForHub); the site's kiosks take them at their next download. Returns the new id.
   */
  async addSupervisor(s: { siteId: string; name: string; pinHash: string }): Promise<string> {
    const siteId = this.checkId(s.siteId, 'site id');
    const name = s.name.trim();
    if (name.length === 0 || name.length > 80 || /\p{Cc}/u.test(name)) throw new RegistryError("a supervisor's name is 1 to 80 characters, without control characters");
    return this.sql.write(async (tx) => {
      if (!(await tx.get(sql`SELECT 1 AS one FROM sites WHERE site_id = ${siteId}`))) throw new RegistryError(`no site ${siteId} (add it with \`safegate hub site add\`)`);
      const site = await tx.all<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'supervisors' AND deleted = 0 AND scope = ${siteId}`);
      if (site.some((r) => (JSON.parse(r.value) as { name: string }).name === name)) throw new RegistryError(`site ${siteId} already has a supervisor named ${JSON.stringify(name)}`);
      const id = `hub-${randomBytes(6).toString('hex')}`;
      await this.putRecords(tx, 'supervisors', [[id, hubSupervisorSchema.parse({ id, siteId, name, pinHash: s.pinHash }), siteId]], false);
      return id;
    });
  }

  /** Gives a hub supervisor a new PIN (its hash, see hashPinForHub): every kiosk of their site takes it at its next download. */
  async setSupervisorPin(id: string, pinHash: string): Promise<void> {
    await this.sql.write(async (tx) => {
      const held = await tx.get<{ value: string; scope: string }>(sql`SELECT value, scope FROM records WHERE stream = 'supervisors' AND key = ${id} AND deleted = 0`);
      if (!held) throw new RegistryError(`no hub supervisor ${id}`);
      const s = JSON.parse(held.value) as { id: string; siteId: string; name: string };
      await this.putRecords(tx, 'supervisors', [[id, hubSupervisorSchema.parse({ id: s.id, siteId: s.siteId, name: s.name, pinHash }), held.scope]], false);
    });
  }

  /** Removes a hub supervisor: every kiosk of their site drops them at its next download. */
  async removeSupervisor(id: string): Promise<void> {
    await this.tombstone('supervisors', id, () => new RegistryError(`no hub supervisor ${id}`));
  }

  /** The hub supervisors (of one site when given), by site and name: never the PIN hash. */
  async supervisors(siteId?: string): Promise<{ id: string; siteId: string; name: string }[]> {
    const ofSite = siteId === undefined ? sql.raw('') : sql` AND scope = ${siteId}`;
    const rows = await this.sql.all<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'supervisors' AND deleted = 0${ofSite}`);
    return rows
      .map((r) => JSON.parse(r.value) as { id: string; siteId: string; name: string })
      .map(({ id, siteId: site, name }) => ({ id, siteId: site, name }))
      .sort((a, b) => a.siteId.localeCompare(b.siteId) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  // ---- shuttles: vehicles, routes, riders and drivers ------------------------------------------

  /** Registers a vehicle (its plate, the organisations it carries for, its drivers: workers on a list, or named drivers). */
  async addVehicle(v: { id: string; plate: string; orgIds: readonly string[]; driverWorkers?: readonly string[]; driverNames?: readonly string[] }, nowMs = Date.now()): Promise<void> {
    const id = this.checkId(v.id, 'vehicle id');
    const plate = plateSchema.safeParse(v.plate);
    if (!plate.success) throw new RegistryError(`plate ${JSON.stringify(v.plate)}: ${plate.error.issues[0]?.message ?? 'not a plate'}`);
    const names = (v.driverNames ?? []).map((n) => this.checkName(n));
    await this.sql.write(async (tx) => {
      const orgIds = [...new Set(await this.requireOrganisations(tx, v.orgIds))];
      if (orgIds.length === 0) throw new RegistryError(`name the organisations vehicle ${id} carries for`);
      if (await tx.get(sql`SELECT 1 AS one FROM vehicles WHERE vehicle_id = ${id} OR plate = ${plate.data}`)) throw new RegistryError(`vehicle ${id} or plate ${plate.data} is already registered`);
      const workers = v.driverWorkers ?? [];
      const listed = new Set((await allIn(tx, [...workers], (list) => sql<{ worker_id: string }>`SELECT worker_id FROM hub_workers WHERE worker_id IN ${list}`)).map((r) => r.worker_id));
      const unlisted = workers.find((w) => !listed.has(w));
      if (unlisted !== undefined) throw new RegistryError(`driver ${unlisted} is on no organisation's worker list (name a driver who is not a worker with --driver-name)`);
      await tx.run(sql`INSERT INTO vehicles (vehicle_id, plate, created_ms) VALUES (${id}, ${plate.data}, ${nowMs})`);
      for (const o of orgIds) await tx.run(sql`INSERT INTO vehicle_orgs (vehicle_id, org_id) VALUES (${id}, ${o})`);
      for (const w of workers) await tx.run(sql`INSERT INTO vehicle_drivers (vehicle_id, driver, worker_id, name) VALUES (${id}, ${`worker:${w}`}, ${w}, ${null}) ON CONFLICT DO NOTHING`);
      for (const n of names) await tx.run(sql`INSERT INTO vehicle_drivers (vehicle_id, driver, worker_id, name) VALUES (${id}, ${`name:${n}`}, ${null}, ${n}) ON CONFLICT DO NOTHING`);
    });
  }

  /**
   * Sets a vehicle's drivers (the whole list): workers on an organisation's list, and named drivers who
   * are not. A driver left out is removed, a named one too (a name is a person's data: it can go).
   */
  async setVehicleDrivers(vehicleIdText: string, drivers: { workers?: readonly string[]; names?: readonly string[] }): Promise<{ drivers: number }> {
    const id = this.checkId(vehicleIdText, 'vehicle id');
    const names = [...new Set((drivers.names ?? []).map((n) => this.checkName(n)))];
    const workers = [...new Set((drivers.workers ?? []).map((w) => this.checkId(w, 'driver worker id')))];
    return this.sql.write(async (tx) => {
      if (!(await tx.get(sql`SELECT 1 AS one FROM vehicles WHERE vehicle_id = ${id}`))) throw new RegistryError(`no vehicle ${id} (add it with \`safegate hub vehicle add\`)`);
      const listed = new Set((await allIn(tx, workers, (list) => sql<{ worker_id: string }>`SELECT worker_id FROM hub_workers WHERE worker_id IN ${list}`)).map((r) => r.worker_id));
      const unlisted = workers.find((w) => !listed.has(w));
      if (unlisted !== undefined) throw new RegistryError(`driver ${unlisted} is on no organisation's worker list (name a driver who is not a worker with --driver-name)`);
      await tx.run(sql`DELETE FROM vehicle_drivers WHERE vehicle_id = ${id}`);
      for (const w of workers) await tx.run(sql`INSERT INTO vehicle_drivers (vehicle_id, driver, worker_id, name) VALUES (${id}, ${`worker:${w}`}, ${w}, ${null})`);
      for (const n of names) await tx.run(sql`INSERT INTO vehicle_drivers (vehicle_id, driver, worker_id, name) VALUES (${id}, ${`name:${n}`}, ${null}, ${n})`);
      return { drivers: workers.length + names.length };
    });
  }

  /** Every vehicle, by id: plate, organisations, drivers (worker ids, or names) and the routes it runs. */
  async vehicles(): Promise<{ id: string; plate: string; orgIds: string[]; drivers: string[]; routes: string[] }[]> {
    const vehicles = await this.sql.all<{ id: string; plate: string }>(sql`SELECT vehicle_id AS id, plate FROM vehicles`);
    const orgs = groupBy(await this.sql.all<{ of: string; item: string }>(sql`SELECT vehicle_id AS "of", org_id AS item FROM vehicle_orgs`));
    const drivers = groupBy(await this.sql.all<{ of: string; item: string; driver: string }>(sql`SELECT vehicle_id AS "of", coalesce(worker_id, name) AS item, driver FROM vehicle_drivers`), (r) => r.driver);
    const routes = groupBy(await this.sql.all<{ of: string; item: string }>(sql`SELECT vehicle_id AS "of", route_id AS item FROM routes WHERE vehicle_id IS NOT NULL`));
    return vehicles
      .sort((a, b) => byText(a.id, b.id))
      .map((v) => ({ id: v.id, plate: v.plate, orgIds: orgs.get(v.id) ?? [], drivers: drivers.get(v.id) ?? [], routes: routes.get(v.id) ?? [] }));
  }

  /** Registers a route serving organisations, optionally run by a registered vehicle. */
  async addRoute(r: { id: string; name?: string; orgIds: readonly string[]; vehicleId?: string }, nowMs = Date.now()): Promise<void> {
    const id = this.checkId(r.id, 'route id');
    const name = r.name === undefined ? id : this.checkName(r.name);
    await this.sql.write(async (tx) => {
      const orgIds = [...new Set(await this.requireOrganisations(tx, r.orgIds))];
      if (orgIds.length === 0) throw new RegistryError(`name the organisations route ${id} serves`);
      if (r.vehicleId !== undefined && !(await tx.get(sql`SELECT 1 AS one FROM vehicles WHERE vehicle_id = ${r.vehicleId}`))) throw new RegistryError(`no vehicle ${r.vehicleId} (add it with \`safegate hub vehicle add\`)`);
      if ((await tx.run(sql`INSERT INTO routes (route_id, name, vehicle_id, created_ms) VALUES (${id}, ${name}, ${r.vehicleId ?? null}, ${nowMs}) ON CONFLICT DO NOTHING`)) === 0) {
        throw new RegistryError(`route ${id} already exists`);
      }
      for (const o of orgIds) await tx.run(sql`INSERT INTO route_orgs (route_id, org_id) VALUES (${id}, ${o})`);
    });
  }

  /** Every route, by id: name, organisations, vehicle, how many ride it, the bus checkpoints linked to it. */
  async routes(): Promise<{ id: string; name: string; orgIds: string[]; vehicleId: string | null; riders: number; checkpoints: string[] }[]> {
    const routes = await this.sql.all<{ id: string; name: string; vehicleId: string | null }>(sql`SELECT route_id AS id, name, vehicle_id AS "vehicleId" FROM routes`);
    const orgs = groupBy(await this.sql.all<{ of: string; item: string }>(sql`SELECT route_id AS "of", org_id AS item FROM route_orgs`));
    const riders = new Map((await this.sql.all<{ of: string; n: number }>(sql`SELECT route_id AS "of", count(*) AS n FROM route_riders GROUP BY route_id`)).map((r) => [r.of, r.n]));
    const checkpoints = groupBy(await this.sql.all<{ of: string; item: string }>(sql`SELECT route_id AS "of", checkpoint_id AS item FROM checkpoint_routes`));
    return routes
      .sort((a, b) => byText(a.id, b.id))
      .map((r) => ({ id: r.id, name: r.name, vehicleId: r.vehicleId, orgIds: orgs.get(r.id) ?? [], riders: riders.get(r.id) ?? 0, checkpoints: checkpoints.get(r.id) ?? [] }));
  }

  /**
   * Sets who rides a route (the whole list). Each rider must be on the worker list of an organisation
   * the route serves; all or nothing. The kiosks of the bus checkpoints linked to the route get their
   * new roster as a fresh snapshot, so a rider taken off the route reaches them as a removal.
   */
  async setRouteRiders(routeIdText: string, workerIds: readonly string[]): Promise<{ riders: number; added: number; removed: number }> {
    const routeId = this.checkId(routeIdText, 'route id');
    return this.sql.write(async (tx) => {
      if (!(await tx.get(sql`SELECT 1 AS one FROM routes WHERE route_id = ${routeId}`))) throw new RegistryError(`no route ${routeId} (add it with \`safegate hub route add\`)`);
      const served = new Set((await tx.all<{ org_id: string }>(sql`SELECT org_id FROM route_orgs WHERE route_id = ${routeId}`)).map((o) => o.org_id));
      const riders = [...new Set(workerIds)];
      const ownerOf = new Map((await allIn(tx, riders, (list) => sql<{ worker_id: string; org_id: string }>`SELECT worker_id, org_id FROM hub_workers WHERE worker_id IN ${list}`)).map((r) => [r.worker_id, r.org_id]));
      const problems: string[] = [];
      for (const w of riders) {
        const owner = ownerOf.get(w);
        if (owner === undefined) problems.push(`${w}: on no organisation's worker list`);
        else if (!served.has(owner)) problems.push(`${w}: a worker of ${owner}, which route ${routeId} does not serve`);
      }
      if (problems.length) throw new RegistryError(`riders refused, nothing changed:\n${problems.slice(0, 50).join('\n')}${problems.length > 50 ? `\n... and ${problems.length - 50} more` : ''}`);
      const held = new Set((await tx.all<{ worker_id: string }>(sql`SELECT worker_id FROM route_riders WHERE route_id = ${routeId}`)).map((r) => r.worker_id));
      const riding = new Set(riders);
      const added = riders.filter((w) => !held.has(w));
      const removed = [...held].filter((w) => !riding.has(w));
      for (const chunk of chunksOf(added, ROWS_PER_INSERT)) await tx.run(sql`INSERT INTO route_riders (route_id, worker_id) VALUES ${sql.join(chunk.map((w) => sql`(${routeId}, ${w})`))}`);
      for (const chunk of chunksOf(removed)) await tx.run(sql`DELETE FROM route_riders WHERE route_id = ${routeId} AND worker_id IN ${inList(chunk)}`);
      if (added.length + removed.length > 0) {
        const devices = await tx.all<{ device_id: string }>(sql`SELECT d.device_id FROM device_sites d JOIN checkpoint_routes c ON c.checkpoint_id = d.checkpoint_id WHERE c.route_id = ${routeId}`);
        await this.rescope(
          tx,
          devices.map((d) => d.device_id),
        );
      }
      return { riders: riders.length, added: added.length, removed: removed.length };
    });
  }

  /** Links a bus checkpoint to the routes it rides (all of them): its kiosks receive those routes' riders. */
  async setCheckpointRoutes(checkpointIdText: string, routeIds: readonly string[]): Promise<void> {
    const id = this.checkId(checkpointIdText, 'checkpoint id');
    const routes = [...new Set(routeIds.map((r) => this.checkId(r, 'route id')))];
    await this.sql.write(async (tx) => {
      const cp = await tx.get<{ kind: string }>(sql`SELECT kind FROM checkpoints WHERE checkpoint_id = ${id}`);
      if (!cp) throw new RegistryError(`no checkpoint ${id} (add it with \`safegate hub checkpoint add\`)`);
      if (cp.kind !== 'bus') throw new RegistryError(`checkpoint ${id} is a ${cp.kind}, not a bus: only a bus checkpoint rides routes`);
      for (const r of routes) if (!(await tx.get(sql`SELECT 1 AS one FROM routes WHERE route_id = ${r}`))) throw new RegistryError(`no route ${r} (add it with \`safegate hub route add\`)`);
      const devices = (await tx.all<{ device_id: string }>(sql`SELECT device_id FROM device_sites WHERE checkpoint_id = ${id}`)).map((d) => d.device_id);
      await this.rescoping(tx, devices, async () => {
        await tx.run(sql`DELETE FROM checkpoint_routes WHERE checkpoint_id = ${id}`);
        for (const r of routes) await tx.run(sql`INSERT INTO checkpoint_routes (checkpoint_id, route_id) VALUES (${id}, ${r})`);
      });
    });
  }

  // ---- sites: which devices share a live site stream ------------------------------------------

  /** Puts devices in a site (moving them from another one if need be); returns how many changed. */
  async assignSite(siteId: string, deviceIds: readonly string[], nowMs = Date.now()): Promise<number> {
    const site = identifierSchema.parse(siteId);
    const devices = deviceIds.map((d) => deviceIdSchema.parse(d));
    return this.sql.write(async (tx) => {
      // A site first named here has no organisation yet (`safegate hub site add --org` gives it one).
      await tx.run(sql`INSERT INTO sites (site_id, org_id, name, created_ms) VALUES (${site}, ${null}, ${site}, ${nowMs}) ON CONFLICT DO NOTHING`);
      return this.rescoping(tx, devices, async () => {
        let n = 0;
        for (const d of devices) {
          const changed = await tx.run(
            // A device moved to another site leaves its checkpoint (which is at the old site).
            sql`INSERT INTO device_sites (device_id, site_id, since_ms) VALUES (${d}, ${site}, ${nowMs})
                ON CONFLICT (device_id) DO UPDATE SET site_id = excluded.site_id, since_ms = excluded.since_ms, checkpoint_id = NULL
                WHERE device_sites.site_id <> excluded.site_id`,
          );
          if (changed > 0) await this.appendPlacement(tx, d, null, nowMs);
          n += changed;
        }
        return n;
      });
    });
  }

  /**
   * Puts devices at a checkpoint, and so in its site (moving them from another one if need be);
   * returns how many changed.
   */
  async placeDevices(checkpointId: string, deviceIds: readonly string[], nowMs = Date.now()): Promise<number> {
    const id = this.checkId(checkpointId, 'checkpoint id');
    const devices = deviceIds.map((d) => {
      const r = deviceIdSchema.safeParse(d);
      if (!r.success) throw new RegistryError(`device id ${JSON.stringify(d)}: ${r.error.issues[0]?.message ?? 'not a device id'}`);
      return r.data;
    });
    return this.sql.write(async (tx) => {
      const cp = await tx.get<{ site_id: string }>(sql`SELECT site_id FROM checkpoints WHERE checkpoint_id = ${id}`);
      if (!cp) throw new RegistryError(`no checkpoint ${id} (add it with \`safegate hub checkpoint add\`)`);
      return this.rescoping(tx, devices, async () => {
        let n = 0;
        for (const device of devices) {
          const changed = await tx.run(
            sql`INSERT INTO device_sites (device_id, site_id, since_ms, checkpoint_id) VALUES (${device}, ${cp.site_id}, ${nowMs}, ${id})
                ON CONFLICT (device_id) DO UPDATE SET
                  since_ms = CASE WHEN device_sites.site_id = excluded.site_id THEN device_sites.since_ms ELSE excluded.since_ms END,
                  site_id = excluded.site_id, checkpoint_id = excluded.checkpoint_id
                WHERE device_sites.site_id <> excluded.site_id OR device_sites.checkpoint_id IS DISTINCT FROM excluded.checkpoint_id`,
          );
          if (changed > 0) await this.appendPlacement(tx, device, id, nowMs);
          n += changed;
        }
        return n;
      });
    });
  }

  /** Takes devices out of their site: they receive no site stream any more. */
  async unassignSite(deviceIds: readonly string[], nowMs = Date.now()): Promise<number> {
    return this.sql.write((tx) =>
      this.rescoping(tx, deviceIds, async () => {
        let n = 0;
        for (const d of deviceIds) {
          const changed = await tx.run(sql`DELETE FROM device_sites WHERE device_id = ${d}`);
          if (changed > 0) await this.appendPlacement(tx, d, null, nowMs);
          n += changed;
        }
        return n;
      }),
    );
  }

  /** Records where a device is placed from `nowMs` (null: at no checkpoint), for tracing's placement history (migration 0020). */
  private async appendPlacement(tx: Db, deviceId: string, checkpointId: string | null, nowMs: number): Promise<void> {
    await tx.run(
      sql`INSERT INTO device_placements (device_id, since_ms, checkpoint_id) VALUES (${deviceId}, ${nowMs}, ${checkpointId})
          ON CONFLICT (device_id, since_ms) DO UPDATE SET checkpoint_id = excluded.checkpoint_id`,
    );
  }

  /** The site a device belongs to, if the operator put it in one. */
  async siteOf(deviceId: string): Promise<string | undefined> {
    return this.siteIn(this.sql, deviceId);
  }

  private async siteIn(db: Db, deviceId: string): Promise<string | undefined> {
    return (await db.get<{ site_id: string }>(sql`SELECT site_id FROM device_sites WHERE device_id = ${deviceId}`))?.site_id;
  }

  /** Every site with its devices, in order. */
  async sites(): Promise<Map<string, string[]>> {
    return this.sitesIn(this.sql);
  }

  private async sitesIn(db: Db): Promise<Map<string, string[]>> {
    const rows = await db.all<{ site_id: string; device_id: string }>(sql`SELECT site_id, device_id FROM device_sites`);
    rows.sort((a, b) => byText(a.site_id, b.site_id) || byText(a.device_id, b.device_id));
    const out = new Map<string, string[]>();
    for (const r of rows) {
      const list = out.get(r.site_id);
      if (list) list.push(r.device_id);
      else out.set(r.site_id, [r.device_id]);
    }
    return out;
  }

  /** The devices of one site. */
  async siteMembers(siteId: string): Promise<string[]> {
    return (await this.sql.all<{ device_id: string }>(sql`SELECT device_id FROM device_sites WHERE site_id = ${siteId}`)).map((r) => r.device_id).sort(byText);
  }

  // ---- registry: organisations, their sites, checkpoints and worker lists -------------------

  /** Registers an organisation (a company, an agency or a market); its id is what commands and uploads name it by. */
  async addOrganisation(o: { id: string; name: string; kind: OrganisationKind }, nowMs = Date.now()): Promise<void> {
    const id = this.checkId(o.id, 'organisation id');
    const name = this.checkName(o.name);
    if (!(ORGANISATION_KINDS as readonly string[]).includes(o.kind)) throw new RegistryError(`organisation kind "${o.kind}": expected ${ORGANISATION_KINDS.join(', ')}`);
    const done = await this.sql.run(sql`INSERT INTO organisations (org_id, name, kind, created_ms) VALUES (${id}, ${name}, ${o.kind}, ${nowMs}) ON CONFLICT DO NOTHING`);
    if (done === 0) throw new RegistryError(`organisation ${id} already exists`);
  }

  /** Every organisation, by id, with its number of sites and workers and its list's age. */
  async organisations(): Promise<Organisation[]> {
    return this.sql.all<Organisation>(
      sql`SELECT o.org_id AS id, o.name, o.kind,
            (SELECT count(*) FROM sites s WHERE s.org_id = o.org_id) AS sites,
            (SELECT count(*) FROM hub_workers w WHERE w.org_id = o.org_id) AS workers,
            u.uploaded_ms AS "listUploadedAtMs"
          FROM organisations o LEFT JOIN org_uploads u ON u.org_id = o.org_id ORDER BY o.org_id${inByteOrder(this.sql)}`,
    );
  }

  /**
   * Registers a site of an organisation. A site named before organisations existed (devices were
   * assigned to it) is given to the organisation, keeping its devices; a site of another
   * organisation is refused.
   */
  async addSite(s: { id: string; orgId: string; name?: string }, nowMs = Date.now()): Promise<'added' | 'claimed'> {
    const id = this.checkId(s.id, 'site id');
    const name = s.name === undefined ? id : this.checkName(s.name);
    return this.sql.write(async (tx) => {
      const orgId = await this.requireOrganisation(tx, s.orgId);
      const held = await tx.get<{ org_id: string | null }>(sql`SELECT org_id FROM sites WHERE site_id = ${id}`);
      if (held?.org_id) throw new RegistryError(held.org_id === orgId ? `site ${id} already exists` : `site ${id} belongs to another organisation (${held.org_id})`);
      if (held) {
        await tx.run(sql`UPDATE sites SET org_id = ${orgId}, name = ${name} WHERE site_id = ${id}`);
        return 'claimed' as const;
      }
      await tx.run(sql`INSERT INTO sites (site_id, org_id, name, created_ms) VALUES (${id}, ${orgId}, ${name}, ${nowMs})`);
      return 'added' as const;
    });
  }

  /** Every site (of one organisation when given), by id. */
  async registeredSites(orgId?: string): Promise<RegisteredSite[]> {
    const org = orgId === undefined ? undefined : await this.requireOrganisation(this.sql, orgId);
    return this.sitesOf(this.sql, org);
  }

  private async sitesOf(db: Db, orgId: string | undefined): Promise<RegisteredSite[]> {
    const ofOrg = orgId === undefined ? sql.raw('') : sql` WHERE s.org_id = ${orgId}`;
    return db.all<RegisteredSite>(
      sql`SELECT s.site_id AS id, s.org_id AS "orgId", s.name,
            (SELECT count(*) FROM device_sites d WHERE d.site_id = s.site_id) AS devices,
            (SELECT count(*) FROM checkpoints c WHERE c.site_id = s.site_id) AS checkpoints
          FROM sites s${ofOrg} ORDER BY s.site_id${inByteOrder(db)}`,
    );
  }

  /** Registers a checkpoint at a site; it serves the site's organisation unless others are named. */
  async addCheckpoint(c: { id: string; siteId: string; name?: string; kind: CheckpointKind; orgIds?: readonly string[] }, nowMs = Date.now()): Promise<void> {
    const id = this.checkId(c.id, 'checkpoint id');
    const siteId = this.checkId(c.siteId, 'site id');
    const name = c.name === undefined ? id : this.checkName(c.name);
    if (!(CHECKPOINT_KINDS as readonly string[]).includes(c.kind)) throw new RegistryError(`checkpoint kind "${c.kind}": expected ${CHECKPOINT_KINDS.join(', ')}`);
    await this.sql.write(async (tx) => {
      const site = await tx.get<{ org_id: string | null }>(sql`SELECT org_id FROM sites WHERE site_id = ${siteId}`);
      if (!site) throw new RegistryError(`no site ${siteId} (add it with \`safegate hub site add\`)`);
      const orgIds = [...new Set(c.orgIds?.length ? await this.requireOrganisations(tx, c.orgIds) : site.org_id ? [site.org_id] : [])];
      if (orgIds.length === 0) throw new RegistryError(`site ${siteId} has no organisation: name the organisations checkpoint ${id} serves`);
      if ((await tx.run(sql`INSERT INTO checkpoints (checkpoint_id, site_id, name, kind, created_ms) VALUES (${id}, ${siteId}, ${name}, ${c.kind}, ${nowMs}) ON CONFLICT DO NOTHING`)) === 0) {
        throw new RegistryError(`checkpoint ${id} already exists`);
      }
      for (const o of orgIds) await tx.run(sql`INSERT INTO checkpoint_orgs (checkpoint_id, org_id) VALUES (${id}, ${o})`);
    });
  }

  /**
   * Sets the organisations a checkpoint serves (at least one). Its devices get the new set's workers
   * as a fresh snapshot at their next download, so an organisation taken off reaches them as removals.
   */
  async setCheckpointOrganisations(checkpointId: string, orgIdsText: readonly string[]): Promise<{ added: string[]; removed: string[] }> {
    const id = this.checkId(checkpointId, 'checkpoint id');
    return this.sql.write(async (tx) => {
      const orgIds = [...new Set(await this.requireOrganisations(tx, orgIdsText))].sort();
      if (orgIds.length === 0) throw new RegistryError(`name at least one organisation checkpoint ${id} serves`);
      if (!(await tx.get(sql`SELECT 1 AS one FROM checkpoints WHERE checkpoint_id = ${id}`))) throw new RegistryError(`no checkpoint ${id} (add it with \`safegate hub checkpoint add\`)`);
      const held = (await tx.all<{ org_id: string }>(sql`SELECT org_id FROM checkpoint_orgs WHERE checkpoint_id = ${id}`)).map((r) => r.org_id);
      const devices = (await tx.all<{ device_id: string }>(sql`SELECT device_id FROM device_sites WHERE checkpoint_id = ${id}`)).map((r) => r.device_id);
      const added = orgIds.filter((o) => !held.includes(o));
      const removed = held.filter((o) => !orgIds.includes(o)).sort();
      await this.rescoping(tx, devices, async () => {
        for (const o of removed) await tx.run(sql`DELETE FROM checkpoint_orgs WHERE checkpoint_id = ${id} AND org_id = ${o}`);
        for (const o of added) await tx.run(sql`INSERT INTO checkpoint_orgs (checkpoint_id, org_id) VALUES (${id}, ${o})`);
      });
      return { added, removed };
    });
  }

  /** Every checkpoint (at one site when given), by id, with the organisations it serves. */
  async checkpoints(siteId?: string): Promise<RegisteredCheckpoint[]> {
    const atSite = siteId === undefined ? sql.raw('') : sql` WHERE site_id = ${siteId}`;
    const rows = await this.sql.all<Omit<RegisteredCheckpoint, 'orgIds' | 'devices'>>(sql`SELECT checkpoint_id AS id, site_id AS "siteId", name, kind FROM checkpoints${atSite}`);
    const ids = rows.map((c) => c.id);
    const orgs = groupBy(await allIn(this.sql, ids, (list) => sql<{ of: string; item: string }>`SELECT checkpoint_id AS "of", org_id AS item FROM checkpoint_orgs WHERE checkpoint_id IN ${list}`));
    const devices = groupBy(await allIn(this.sql, ids, (list) => sql<{ of: string; item: string }>`SELECT checkpoint_id AS "of", device_id AS item FROM device_sites WHERE checkpoint_id IN ${list}`));
    return rows.sort((a, b) => byText(a.id, b.id)).map((c) => ({ ...c, orgIds: orgs.get(c.id) ?? [], devices: devices.get(c.id) ?? [] }));
  }

  /**
   * Takes an organisation's worker list as the truth for that organisation only: its workers not
   * on the list are removed (tombstones, as removeWorkers), other organisations' workers are never
   * touched. All or nothing: a worker of another organisation or a site that is not the
   * organisation's refuses the whole list, each problem with its line. Kiosks get the decision
   * fields only; ID number, phone and residence stay in hub-only storage. A worker already on the
   * roster keeps what the health side set (case status, quarantine, declaration).
   */
  async uploadWorkers(orgIdText: string, list: readonly ListedWorker[], options: { siteId?: string; nowMs?: number } = {}): Promise<{ rev: number; changed: number; removed: number; workers: number }> {
    const nowMs = options.nowMs ?? Date.now();
    return this.sql.write(async (tx) => {
      const orgId = await this.requireOrganisation(tx, orgIdText);
      const org = (await tx.get<{ name: string }>(sql`SELECT name FROM organisations WHERE org_id = ${orgId}`))!;
      const ownSites = new Set((await this.sitesOf(tx, orgId)).map((s) => s.id));
      let defaultSite: string | undefined;
      if (options.siteId !== undefined) {
        if (!ownSites.has(options.siteId)) throw new RegistryError(`site ${options.siteId} is not a site of ${orgId}`);
        defaultSite = options.siteId;
      } else if (ownSites.size === 1) defaultSite = [...ownSites][0];
      const ids = [...new Set(list.map((w) => w.workerId))];
      const ownerOf = new Map((await allIn(tx, ids, (l) => sql<{ worker_id: string; org_id: string }>`SELECT worker_id, org_id FROM hub_workers WHERE worker_id IN ${l}`)).map((r) => [r.worker_id, r.org_id]));
      // Each listed worker's live roster record: what the health side set is kept, and one on the province list ('') is not this organisation's to take.
      const held = new Map(
        (await allIn(tx, ids, (l) => sql<{ key: string; value: string; scope: string }>`SELECT key, value, scope FROM records WHERE stream = 'roster' AND key IN ${l} AND deleted = 0`)).map((r) => [r.key, r]),
      );
      const problems: ListProblem[] = [];
      for (const w of list) {
        const site = w.siteId ?? defaultSite;
        if (site === undefined)
          problems.push(
            ownSites.size
              ? listProblem(w.line, 'registry.siteNeeded', `site: ${orgId} has ${ownSites.size} sites; name the site in a site column or with --site`, { org: orgId, sites: ownSites.size })
              : listProblem(w.line, 'registry.noSite', `${orgId} has no site yet (add one with \`safegate hub site add\`)`, { org: orgId }),
          );
        else if (!ownSites.has(site)) problems.push(listProblem(w.line, 'registry.foreignSite', `site: ${site} is not a site of ${orgId}`, { site, org: orgId }));
        const owner = ownerOf.get(w.workerId);
        if (owner !== undefined && owner !== orgId) problems.push(listProblem(w.line, 'registry.otherOrganisation', `worker id ${w.workerId} is on another organisation's list`, { workerId: w.workerId }));
        // A worker on the province-wide list (the health side's) is not an organisation's to take over.
        else if (owner === undefined && held.get(w.workerId)?.scope === PROVINCE_SCOPE)
          problems.push(listProblem(w.line, 'registry.provinceList', `worker id ${w.workerId} is on the province-wide list (safegate hub roster import); it cannot be taken onto an organisation's list`, { workerId: w.workerId }));
      }
      if (problems.length) throw new WorkerListError(problems);

      const records = list.map((w): WorkerRecord => {
        const old = held.get(w.workerId);
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
      const put = await this.putRecords(
        tx,
        'roster',
        records.map((r) => [r.workerId, r, orgId] as const),
        false,
      );
      const listed = new Set(ids);
      const gone = (await tx.all<{ worker_id: string }>(sql`SELECT worker_id FROM hub_workers WHERE org_id = ${orgId}`)).map((r) => r.worker_id).filter((id) => !listed.has(id));
      // Removals take the upload's revision, so a kiosk gets one upload as one change.
      const rev = put.changed ? put.rev : (await revisionOf(tx, 'roster')) + 1;
      const removed = await this.forgetWorkers(tx, gone, rev);
      // One row per worker (a worker listed twice: the last line, as one upsert after another would leave).
      const kept = new Map(list.map((w) => [w.workerId, w]));
      for (const chunk of chunksOf([...kept.values()], ROWS_PER_INSERT)) {
        const rows = chunk.map(
          (w) => sql`(${w.workerId}, ${orgId}, ${w.siteId ?? defaultSite}, ${w.team}, ${w.fullName}, ${w.birthYear}, ${w.sex}, ${w.idNumber}, ${w.phone}, ${w.residence}, ${nowMs})`,
        );
        await tx.run(
          sql`INSERT INTO hub_workers (worker_id, org_id, site_id, team, full_name, birth_year, sex, id_number, phone, residence, uploaded_ms)
              VALUES ${sql.join(rows)}
              ON CONFLICT (worker_id) DO UPDATE SET org_id = excluded.org_id, site_id = excluded.site_id, team = excluded.team, full_name = excluded.full_name,
                birth_year = excluded.birth_year, sex = excluded.sex, id_number = excluded.id_number, phone = excluded.phone, residence = excluded.residence,
                uploaded_ms = excluded.uploaded_ms`,
        );
      }
      await tx.run(
        sql`INSERT INTO org_uploads (org_id, uploaded_ms, workers) VALUES (${orgId}, ${nowMs}, ${list.length})
            ON CONFLICT (org_id) DO UPDATE SET uploaded_ms = excluded.uploaded_ms, workers = excluded.workers`,
      );
      await tx.run(sql`INSERT INTO org_list_uploads (org_id, uploaded_ms, workers) VALUES (${orgId}, ${nowMs}, ${list.length})`);
      return { rev: removed ? rev : put.rev, changed: put.changed, removed, workers: list.length };
    });
  }

  /**
   * A worker's health declaration (sync/hub/declarations.ts) into their roster record, so each of
   * their kiosks gets its time and flag at its next download, by the one rule of which declaration
   * stands (base/common/declaration.ts replacesDeclaration: never older over newer; a flagged one stands
   * for the rest of its day in `zone`). Returns the sites whose kiosks serve the worker (their own
   * site, the sites of checkpoints serving their organisation and of the buses they ride; every site
   * for a worker on no organisation's list), for the live site stream, or undefined for a worker not
   * on the roster, or (with `scopes`, a device's rosterScopes) on none of those scopes.
   */
  async recordDeclaration(
    workerId: string,
    declaredAtMs: number,
    flagged: boolean,
    options: { zone?: string; scopes?: readonly string[] } = {},
  ): Promise<{ changed: boolean; sites: string[] } | undefined> {
    return this.sql.write(async (tx) => {
      const held = await tx.get<{ value: string; scope: string }>(sql`SELECT value, scope FROM records WHERE stream = 'roster' AND key = ${workerId} AND deleted = 0`);
      if (!held) return undefined;
      if (options.scopes && !(await this.servedIn(tx, workerId, held.scope, options.scopes))) return undefined;
      const record = JSON.parse(held.value) as WorkerRecord;
      const replaces = replacesDeclaration({ declaredAtMs: record.declaredAt, flagged: record.declarationFlagged }, { declaredAtMs, flagged }, options.zone ?? DEFAULT_TIME_ZONE);
      const changed = replaces && (await this.putRecords(tx, 'roster', [[workerId, { ...record, declaredAt: declaredAtMs, declarationFlagged: flagged }, held.scope]], false)).changed > 0;
      const listed = await tx.get<{ org_id: string; site_id: string }>(sql`SELECT org_id, site_id FROM hub_workers WHERE worker_id = ${workerId}`);
      const sites = listed
        ? (
            await tx.all<{ site_id: string }>(
              sql`SELECT CAST(${listed.site_id} AS TEXT) AS site_id
                  UNION SELECT c.site_id FROM checkpoints c JOIN checkpoint_orgs o ON o.checkpoint_id = c.checkpoint_id WHERE o.org_id = ${listed.org_id}
                  UNION SELECT c.site_id FROM checkpoints c JOIN checkpoint_routes r ON r.checkpoint_id = c.checkpoint_id JOIN route_riders rr ON rr.route_id = r.route_id WHERE rr.worker_id = ${workerId}`,
            )
          )
            .map((r) => r.site_id)
            .sort(byText)
        : [...(await this.sitesIn(tx)).keys()].sort();
      return { changed, sites };
    });
  }

  /**
   * A health officer clears a worker's flagged declaration (`safegate hub declaration clear`): the
   * roster record keeps the declaration's time and drops the flag, so each of their kiosks admits
   * them again at its next roster download (a later declaration that day counts again by the usual
   * rule), and who, when and why is kept. Undefined for a worker not on the roster; `cleared: false`
   * (nothing written) when their declaration is not flagged.
   */
  async clearDeclarationFlag(workerId: string, clearance: { by: string; reason: string; nowMs: number }): Promise<{ cleared: boolean; declaredAtMs: number | null } | undefined> {
    return this.sql.write(async (tx) => {
      const held = await tx.get<{ value: string; scope: string }>(sql`SELECT value, scope FROM records WHERE stream = 'roster' AND key = ${workerId} AND deleted = 0`);
      if (!held) return undefined;
      const record = JSON.parse(held.value) as WorkerRecord;
      if (!record.declarationFlagged || record.declaredAt === null) return { cleared: false, declaredAtMs: record.declaredAt };
      await this.putRecords(tx, 'roster', [[workerId, { ...record, declarationFlagged: false }, held.scope]], false);
      await tx.run(
        sql`INSERT INTO declaration_clearances (worker_id, cleared_ms, cleared_by, declared_ms, reason)
            VALUES (${workerId}, ${clearance.nowMs}, ${clearance.by}, ${record.declaredAt}, ${clearance.reason})`,
      );
      return { cleared: true, declaredAtMs: record.declaredAt };
    });
  }

  /** Each organisation's standing against CV 2242 at `nowMs` (by id), for `hub org list` and the console. */
  async listCompliance(nowMs: number, zone: string): Promise<ListCompliance[]> {
    const dayStart = startOfDayIn(nowMs, zone);
    const deadline = timeOfDayIn(nowMs, TEST_RESULTS_DEADLINE, zone);
    const rows = await this.sql.all<{ orgId: string; lastMs: number | null; inTime: number | boolean; late: number | boolean }>(
      sql`SELECT o.org_id AS "orgId",
            (SELECT max(uploaded_ms) FROM org_list_uploads u WHERE u.org_id = o.org_id AND u.uploaded_ms <= ${nowMs}) AS "lastMs",
            EXISTS (SELECT 1 FROM org_list_uploads u WHERE u.org_id = o.org_id AND u.uploaded_ms >= ${dayStart} AND u.uploaded_ms <= ${Math.min(deadline, nowMs)}) AS "inTime",
            EXISTS (SELECT 1 FROM org_list_uploads u WHERE u.org_id = o.org_id AND u.uploaded_ms > ${deadline} AND u.uploaded_ms <= ${nowMs}) AS late
          FROM organisations o ORDER BY o.org_id${inByteOrder(this.sql)}`,
    );
    return rows.map((r) => {
      const listAgeMs = r.lastMs === null ? null : nowMs - r.lastMs;
      const todaysList = r.inTime ? 'before-deadline' : r.late ? 'late' : nowMs <= deadline ? 'not-yet' : 'missing';
      return { orgId: r.orgId, listAgeMs, todaysList, outOfCompliance: listAgeMs === null || listAgeMs > LIST_MAX_AGE_MS };
    });
  }

  /** What the hub keeps about one worker for the law (CV 2242), never sent to kiosks. */
  async hubOnlyWorker(workerId: string): Promise<HubOnlyWorker | undefined> {
    return this.sql.get<HubOnlyWorker>(
      sql`SELECT org_id AS "orgId", site_id AS "siteId", team, full_name AS "fullName", birth_year AS "birthYear", sex, id_number AS "idNumber", phone, residence
          FROM hub_workers WHERE worker_id = ${workerId}`,
    );
  }

  // ---- console reads: scoped by the organisation they are given, never ID number, phone or residence ----

  /** Whether an organisation is registered (a manager account names one). */
  async hasOrganisation(orgId: string): Promise<boolean> {
    return (await this.sql.get(sql`SELECT 1 AS one FROM organisations WHERE org_id = ${orgId}`)) !== undefined;
  }

  /**
   * Uploaded workers whose name, team or id contains `text` (of one organisation when `orgId` is
   * given), by name: what a list shows, never ID number, phone or residence. Letters match in either
   * case (on SQLite ASCII letters only, as its LIKE does; on PostgreSQL every letter).
   */
  async searchWorkers(orgId: string | undefined, text: string, limit: number): Promise<{ workerId: string; orgId: string; siteId: string; team: string; fullName: string }[]> {
    const like = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const ofOrg = orgId === undefined ? sql.raw('') : sql`org_id = ${orgId} AND `;
    const C = inByteOrder(this.sql);
    return this.sql.all(
      sql`SELECT worker_id AS "workerId", org_id AS "orgId", site_id AS "siteId", team, full_name AS "fullName" FROM hub_workers
          WHERE ${ofOrg}(lower(full_name) LIKE lower(${like}) ESCAPE '\\' OR lower(team) LIKE lower(${like}) ESCAPE '\\' OR lower(worker_id) LIKE lower(${like}) ESCAPE '\\')
          ORDER BY full_name${C}, worker_id${C} LIMIT ${limit}`,
    );
  }

  /** The organisation of each of these workers that is on an uploaded list (one statement per few thousand). */
  async organisationsOf(workerIds: readonly string[]): Promise<Map<string, string>> {
    if (workerIds.length === 0) return new Map();
    // One parameter for the whole list: the hub asks this for every group of batches it stores.
    const rows = await this.sql.all<{ worker_id: string; org_id: string }>(
      sql`SELECT worker_id, org_id FROM hub_workers WHERE ${isAnyOf(this.sql.dialect, sql.ref('worker_id'), [...new Set(workerIds)])}`,
    );
    return new Map(rows.map((r) => [r.worker_id, r.org_id]));
  }

  /** The notices published and not withdrawn (expired ones included), by start. */
  async notices(): Promise<Notice[]> {
    const rows = await this.sql.all<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'notices' AND deleted = 0`);
    return rows.map((r) => JSON.parse(r.value) as Notice).sort((a, b) => b.startsAtMs - a.startsAtMs);
  }

  private async requireOrganisation(db: Db, orgId: string): Promise<string> {
    const id = this.checkId(orgId, 'organisation id');
    if (!(await db.get(sql`SELECT 1 AS one FROM organisations WHERE org_id = ${id}`))) throw new RegistryError(`no organisation ${id} (add it with \`safegate hub org add\`)`);
    return id;
  }

  /** Each organisation checked in turn (the first unknown one is refused). */
  private async requireOrganisations(db: Db, orgIds: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const o of orgIds) out.push(await this.requireOrganisation(db, o));
    return out;
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

  /** Closes the database (the handle `open` made; the modules given `sql` never close it). */
  async close(): Promise<void> {
    await this.sql.close();
  }
}

/** `{ of, item }` rows as lists of items per `of`, each list in byte order (or by `order` when given). */
function groupBy<R extends { of: string; item: string }>(rows: readonly R[], order: (r: R) => string = (r) => r.item): Map<string, string[]> {
  const sorted = [...rows].sort((a, b) => byText(order(a), order(b)));
  const out = new Map<string, string[]>();
  for (const r of sorted) {
    const list = out.get(r.of);
    if (list) list.push(r.item);
    else out.set(r.of, [r.item]);
  }
  return out;
}
