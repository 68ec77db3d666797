import { createPublicKey, type KeyObject } from 'node:crypto';
import { keyIdOf, keyIdText } from '../../base/node/keys.js';
import type { KeyRole } from '../../base/common/key-roles.js';
import { openDatabase, type SqliteDatabase } from '../../base/node/sqlite.js';
import type { Notice, WorkerRecord } from '../../base/common/types.js';
import { hubKeySchema, noticeSchema, policyDocumentSchema, revocationSchema, sealDownlink, streamCodecs, type DownlinkPart, type StreamCodec } from '../downlink-codec.js';
import { PROTOCOL_VERSION, type DownlinkStream, type SyncRequest } from '../protocol.js';
import { deviceIdSchema, identifierSchema } from '../../base/common/ids.js';
import * as m0001 from './directory-migrations/0001-records.js';
import * as m0002 from './directory-migrations/0002-forget-removed.js';
import * as m0003 from './directory-migrations/0003-device-sites.js';

export const DIRECTORY_MIGRATIONS = [
  { version: 1, name: '0001-records', up: m0001.up },
  { version: 2, name: '0002-forget-removed', up: m0002.up },
  { version: 3, name: '0003-device-sites', up: m0003.up },
] as const;

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
   * other worker is removed. Unchanged records keep their revision, so kiosks download only changes.
   */
  importRoster(records: readonly WorkerRecord[], replace: boolean): { rev: number; changed: number; removed: number } {
    return this.putRecords('roster', records.map((r) => [r.workerId, r]), replace);
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
        const forget = this.db.prepare("UPDATE records SET deleted = 1, value = 'null', rev = ? WHERE stream = 'roster' AND key = ? AND deleted = 0");
        let removed = 0;
        for (const id of workerIds) removed += forget.run(rev, id).changes;
        if (removed) this.bump('roster', rev);
        return { rev: removed ? rev : rev - 1, removed };
      })
      .immediate();
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

  private putRecords(stream: DownlinkStream, entries: readonly [string, unknown][], replace: boolean): { rev: number; changed: number; removed: number } {
    return this.db
      .transaction(() => {
        const rev = this.revision(stream) + 1;
        const get = this.db.prepare('SELECT value, deleted FROM records WHERE stream = ? AND key = ?');
        const put = this.db.prepare(
          `INSERT INTO records (stream, key, value, deleted, rev) VALUES (?, ?, ?, 0, ?)
           ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value, deleted = 0, rev = excluded.rev`,
        );
        let changed = 0;
        for (const [key, value] of entries) {
          const json = JSON.stringify(value);
          const old = get.get(stream, key) as { value: string; deleted: number } | undefined;
          if (old && old.deleted === 0 && old.value === json) continue;
          put.run(stream, key, json, rev);
          changed++;
        }
        let removed = 0;
        if (replace) {
          this.db.exec('CREATE TEMP TABLE IF NOT EXISTS import_keys (key TEXT PRIMARY KEY)');
          this.db.exec('DELETE FROM import_keys');
          const keep = this.db.prepare('INSERT OR IGNORE INTO import_keys VALUES (?)');
          for (const [key] of entries) keep.run(key);
          removed = this.db
            .prepare("UPDATE records SET deleted = 1, value = 'null', rev = ? WHERE stream = ? AND deleted = 0 AND key NOT IN (SELECT key FROM import_keys)")
            .run(rev, stream).changes;
        }
        if (changed + removed > 0) this.bump(stream, rev);
        return { rev: changed + removed > 0 ? rev : rev - 1, changed, removed };
      })
      .immediate();
  }

  /** The parts that bring a kiosk from its cursor to the current revision (unsigned). */
  respond(req: SyncRequest, nowMs: number, partSize = PART_SIZE): DownlinkPart[] {
    return [...this.respondParts(req, nowMs, partSize)];
  }

  /**
   * The same, one part at a time, so the hub can send part 1 while it builds part 2. The rows are
   * read in one statement, so a snapshot is consistent even while an import runs.
   */
  *respondParts(req: SyncRequest, nowMs: number, partSize = PART_SIZE): Generator<DownlinkPart> {
    const plan = this.db.transaction(() => {
      const current = this.revision(req.stream);
      const base = { v: PROTOCOL_VERSION, stream: req.stream, issuedAtMs: nowMs } as const;
      if (req.cursor === current) return { ...base, kind: 'current', from: current, to: current, part: 0, parts: 1, body: [] } satisfies DownlinkPart;
      // A kiosk ahead of the hub (the hub's data was reset) or holding nothing gets a snapshot.
      const snapshot = req.cursor === 0 || req.cursor > current;
      const rows = (
        snapshot
          ? this.db.prepare('SELECT key, value, deleted FROM records WHERE stream = ? AND deleted = 0 ORDER BY key').all(req.stream)
          : this.db.prepare('SELECT key, value, deleted FROM records WHERE stream = ? AND rev > ? ORDER BY key').all(req.stream, req.cursor)
      ) as { key: string; value: string; deleted: number }[];
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

  /** Signed, ready to publish, one part at a time. */
  *respondSigned(req: SyncRequest, nowMs: number, key: KeyObject, partSize = PART_SIZE): Generator<Uint8Array> {
    for (const p of this.respondParts(req, nowMs, partSize)) yield sealDownlink(p, key);
  }

  // ---- sites: which devices share a live site stream ------------------------------------------

  /** Puts devices in a site (moving them from another one if need be); returns how many changed. */
  assignSite(siteId: string, deviceIds: readonly string[], nowMs = Date.now()): number {
    const site = identifierSchema.parse(siteId);
    const devices = deviceIds.map((d) => deviceIdSchema.parse(d));
    const put = this.db.prepare(
      'INSERT INTO device_sites (device_id, site_id, since_ms) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET site_id = excluded.site_id, since_ms = excluded.since_ms WHERE site_id <> excluded.site_id',
    );
    return this.db.transaction(() => devices.reduce((n, d) => n + put.run(d, site, nowMs).changes, 0)).immediate();
  }

  /** Takes devices out of their site: they receive no site stream any more. */
  unassignSite(deviceIds: readonly string[]): number {
    const del = this.db.prepare('DELETE FROM device_sites WHERE device_id = ?');
    return this.db.transaction(() => deviceIds.reduce((n, d) => n + del.run(d).changes, 0)).immediate();
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

  close(): void {
    this.db.close();
  }
}
