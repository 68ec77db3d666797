import { mkdirSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewGateEvent } from '../../../../base/common/types.js';
import { createLogger } from '../../../../base/node/logger.js';
import { openStore, type SqliteDatabase } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { Notices } from '../../../../src-main/core/store/notices.js';
import { Retention } from '../../../../src-main/core/store/retention.js';
import { MIGRATIONS } from '../../../../src-main/core/store/migrations/index.js';
import { tempDir } from '../../../helpers/fixtures.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T01:00:00Z');
const event = (wallMs: number): NewGateEvent => ({
  wallMs, monoUs: 1, bootId: 'b', clockSynced: true, checkpointId: 'gate-a', zoneId: 'z', direction: 'entry', credentialKind: 'pass',
  workerId: 'W1', codeHash: null, decision: 'allow', reasons: [], source: 'serial', policyVersion: 1,
});

describe('retention', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: SqliteDatabase;
  afterEach(() => {
    db?.close();
    dir.remove();
  });

  function setup(syncs: boolean) {
    dir = tempDir('safegate-retention-');
    db = openStore(join(dir.path, 'safegate.db'));
    const events = new EventLog(db);
    const old = [events.append(event(NOW - 40 * DAY)), events.append(event(NOW - 30 * DAY))];
    const recent = events.append(event(NOW - DAY));
    events.markSynced(old[0]!, old[0]!, NOW);
    const audit: number[] = [];
    const exportsDir = join(dir.path, 'exports');
    mkdirSync(exportsDir);
    writeFileSync(join(exportsDir, 'old.csv'), 'x');
    utimesSync(join(exportsDir, 'old.csv'), new Date(NOW - 2 * DAY), new Date(NOW - 2 * DAY));
    writeFileSync(join(exportsDir, 'new.csv'), 'x');
    utimesSync(join(exportsDir, 'new.csv'), new Date(NOW - 3_600_000), new Date(NOW - 3_600_000));
    const retention = new Retention({
      events,
      notices: new Notices(db),
      supervisor: { purgeAuditBefore: (ms) => (audit.push(ms), 0) },
      retentionDays: 28,
      syncs,
      exportsDir,
      log: createLogger({ level: 'silent' }),
      now: () => NOW,
    });
    return { events, retention, old, recent, audit, exportsDir };
  }

  it('a kiosk that syncs keeps what the hub does not have yet, however old', () => {
    const { events, retention, old, recent } = setup(true);
    expect(retention.purge().events).toBe(1);
    expect([...events.since(0)].map((e) => e.seq)).toEqual([old[1], recent]);
  });

  it('a kiosk without a hub purges every event older than the retention: nothing will ever sync them', () => {
    const { events, retention, recent, audit } = setup(false);
    expect(retention.purge().events).toBe(2);
    expect([...events.since(0)].map((e) => e.seq)).toEqual([recent]);
    expect(audit).toEqual([NOW - 28 * DAY]);
  });

  it('exported files do not stay behind: older than a day, they go', () => {
    const { retention, exportsDir } = setup(true);
    expect(retention.purge().exports).toBe(1);
    expect(existsSync(join(exportsDir, 'old.csv'))).toBe(false);
    expect(existsSync(join(exportsDir, 'new.csv'))).toBe(true);
  });

  it("a declaration's answer bits go after 14 days, the event stays; one the hub does not have yet keeps them until it is sent (the wire carries them); without a hub they go regardless", () => {
    for (const syncs of [true, false]) {
      const { events, retention } = setup(syncs);
      const declared = (wallMs: number, answers: number) => events.append({ ...event(wallMs), source: 'declaration', decision: answers ? 'deny' : 'allow', reasons: answers ? ['DECLARATION_FLAGGED'] : [], declaration: { answers } });
      const oldSent = declared(NOW - 15 * DAY, 0b100);
      const oldUnsent = declared(NOW - 15 * DAY + 1, 0b1);
      const fresh = declared(NOW - 13 * DAY, 0b10);
      events.markSynced(oldSent, oldSent, NOW);
      expect(retention.purge().declarationAnswers).toBe(syncs ? 1 : 2);
      const bits = () => db.prepare("SELECT seq, declaration_bits AS bits, decision FROM events WHERE source = 'declaration' ORDER BY seq").all();
      expect(bits()).toEqual([
        { seq: oldSent, bits: null, decision: 'deny' },
        { seq: oldUnsent, bits: syncs ? 0b1 : null, decision: 'deny' },
        { seq: fresh, bits: 0b10, decision: 'deny' },
      ]);
      expect(events.get(oldSent)).not.toHaveProperty('declaration');
      expect(events.get(fresh)).toMatchObject({ declaration: { answers: 0b10 } });
      // Sent later: its answers go at the next pass.
      events.markSynced(oldUnsent, oldUnsent, NOW);
      expect(retention.purge().declarationAnswers).toBe(syncs ? 1 : 0);
      expect(bits().map((r) => (r as { bits: number | null }).bits)).toEqual([null, null, 0b10]);
      db.close();
      dir.remove();
    }
    // afterEach closes the last one again: open a fresh one for it.
    dir = tempDir('safegate-retention-');
    db = openStore(join(dir.path, 'safegate.db'));
  });

  it('migration 0024: a store made before it keeps its events and sequence numbers, and takes a declaration without answers', () => {
    dir = tempDir('safegate-retention-0024-');
    const path = join(dir.path, 'safegate.db');
    // The store as of migration 23, with a declaration event.
    const older = openStore(path, { migrations: MIGRATIONS.filter((m) => m.version <= 23) });
    older.prepare(`INSERT INTO events (seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind, worker_id, decision, reasons, source, policy_version, declaration_bits)
                   VALUES (41, ?, 1, 'b', 1, 'gate-a', 'z', 'entry', 'pass', 'W1', 'deny', 'DECLARATION_FLAGGED', 'declaration', 1, 4)`).run(NOW - 20 * DAY);
    expect(() => older.prepare('UPDATE events SET declaration_bits = NULL WHERE seq = 41').run()).toThrow(/CHECK/);
    older.close();
    db = openStore(path);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    const events = new EventLog(db);
    expect(events.get(41)).toMatchObject({ source: 'declaration', declaration: { answers: 4 } });
    expect(events.clearDeclarationBitsBefore(NOW - 14 * DAY, { unsyncedToo: true })).toBe(1);
    expect(events.get(41)).toMatchObject({ source: 'declaration', decision: 'deny' });
    expect(events.get(41)).not.toHaveProperty('declaration');
    // Still never on another kind of event; the sequence goes on after 41.
    expect(events.append(event(NOW))).toBe(42);
    expect(() => db.prepare('UPDATE events SET declaration_bits = 1 WHERE seq = 42').run()).toThrow(/CHECK/);
  });
});
