import { mkdirSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewGateEvent } from '../../../../base/common/types.js';
import { createLogger } from '../../../../base/node/logger.js';
import { openStore, type SqliteDatabase } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { Notices } from '../../../../src-main/core/store/notices.js';
import { Retention } from '../../../../src-main/core/store/retention.js';
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
});
