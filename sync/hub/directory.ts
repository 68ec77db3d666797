import type { KeyObject } from 'node:crypto';
import { openStore, type SqliteDatabase } from '../../src-main/core/store/database.js';
import type { WorkerRecord } from '../../src-main/core/types.js';
import { rosterChangeToWire, sealDownlink, type DownlinkPart } from '../downlink-codec.js';
import { PROTOCOL_VERSION, type SyncRequest } from '../protocol.js';
import * as m0001 from './directory-migrations/0001-roster.js';

export const DIRECTORY_MIGRATIONS = [{ version: 1, name: '0001-roster', up: m0001.up }] as const;

/** Records per downlink part: about 400 KB of CBOR, quick to verify and stage on a kiosk. */
export const PART_SIZE = 5_000;

/** The hub's published data (the roster for now) with revisions, and the transfers it answers with. */
export class HubDirectory {
  private readonly db: SqliteDatabase;

  constructor(path: string) {
    this.db = openStore(path, { migrations: DIRECTORY_MIGRATIONS, busyTimeoutMs: 5_000 });
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
    return this.db
      .transaction(() => {
        const rev = this.revision('roster') + 1;
        const get = this.db.prepare('SELECT record, deleted FROM roster WHERE worker_id = ?');
        const put = this.db.prepare(
          `INSERT INTO roster (worker_id, record, deleted, rev) VALUES (?, ?, 0, ?)
           ON CONFLICT (worker_id) DO UPDATE SET record = excluded.record, deleted = 0, rev = excluded.rev`,
        );
        let changed = 0;
        for (const r of records) {
          const json = JSON.stringify(r);
          const old = get.get(r.workerId) as { record: string; deleted: number } | undefined;
          if (old && old.deleted === 0 && old.record === json) continue;
          put.run(r.workerId, json, rev);
          changed++;
        }
        let removed = 0;
        if (replace) {
          this.db.exec('CREATE TEMP TABLE IF NOT EXISTS import_ids (worker_id TEXT PRIMARY KEY)');
          this.db.exec('DELETE FROM import_ids');
          const keep = this.db.prepare('INSERT OR IGNORE INTO import_ids VALUES (?)');
          for (const r of records) keep.run(r.workerId);
          removed = this.db
            .prepare('UPDATE roster SET deleted = 1, rev = ? WHERE deleted = 0 AND worker_id NOT IN (SELECT worker_id FROM import_ids)')
            .run(rev).changes;
        }
        if (changed + removed > 0) {
          this.db
            .prepare('INSERT INTO stream_revisions (stream, rev) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev')
            .run('roster', rev);
        }
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
          ? this.db.prepare('SELECT worker_id, record, deleted FROM roster WHERE deleted = 0 ORDER BY worker_id').all()
          : this.db.prepare('SELECT worker_id, record, deleted FROM roster WHERE rev > ? ORDER BY worker_id').all(req.cursor)
      ) as { worker_id: string; record: string; deleted: number }[];
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
    for (let part = 0; part < parts; part++) {
      if (resume.has(part)) continue;
      const body = rows.slice(part * partSize, (part + 1) * partSize).map((r) =>
        rosterChangeToWire(r.deleted ? { deleted: true, workerId: r.worker_id } : { deleted: false, worker: JSON.parse(r.record) as WorkerRecord }),
      );
      yield { ...base, kind, from, to: current, part, parts, body };
    }
  }

  /** Signed, ready to publish, one part at a time. */
  *respondSigned(req: SyncRequest, nowMs: number, key: KeyObject, partSize = PART_SIZE): Generator<Uint8Array> {
    for (const p of this.respondParts(req, nowMs, partSize)) yield sealDownlink(p, key);
  }

  close(): void {
    this.db.close();
  }
}
