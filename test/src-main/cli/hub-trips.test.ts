import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import { busTripEvents } from '../../helpers/bus-events.js';
import { typicalEvents } from '../../helpers/events.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

const T0 = Date.parse('2026-11-26T05:30:00Z');
const FIRST = 'Tmhfa0001-aaaaa1';
const SECOND = 'Tmhfa0002-aaaaa2';
const OTHER = 'Tmhfa0003-bbbbb1';
const NIGHT = 'Tmhfa0004-ccccc1';

/**
 * `safegate hub trips` (the compiled build) over a real hub store holding two buses' trips as their
 * batches brought them: one JSON object per trip (the issue's fixed names), filters, the readable
 * table, clear refusals; on SQLite and PostgreSQL (DATABASE_URL, as `hub run` opens it).
 */
describe.each(directoryBackends)('hub trips command on $name', (backend) => {
  const dir = tempDir('safegate-hubtrips-');
  const config = join(dir.path, 'hub.yaml');
  let env: NodeJS.ProcessEnv = {};
  const run = (...args: string[]) => safegate(['hub', 'trips', ...args, '--config', config], { env });
  const first = busTripEvents({ startMs: T0, tripId: FIRST, routeId: 'R1', gpsClock: true });
  const second = busTripEvents({ firstSeq: first.length + 1, startMs: T0 + 7_200_000, tripId: SECOND, riders: 3 });
  const other = busTripEvents({ startMs: T0 + 3_600_000, tripId: OTHER, riders: 2 });
  // A late trip a week earlier, past midnight in the province zone (23:59:34 to 00:00:18 there).
  const night = busTripEvents({ startMs: Date.parse('2026-11-19T16:59:30Z'), tripId: NIGHT, riders: 2 });

  beforeAll(async () => {
    const target = await backend.target();
    const where = hubDirectoryAt(target);
    env = where.env;
    const store: HubStore = target.kind === 'postgres' ? await PgHubStore.open(target.url) : new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      await store.ingest('bus-a', [...first, ...second], T0 + 9_000_000);
      await store.ingest('bus-b', other, T0 + 9_000_000);
      await store.ingest('bus-n', night, T0 + 9_000_000);
      await store.ingest('gate-1', typicalEvents(20), T0 + 9_000_000);
    } finally {
      await store.close();
    }
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: where.path }, store: { path: 'hub.db' }, time: { zone: 'Asia/Ho_Chi_Minh' } }));
  }, 60_000);
  afterAll(() => dir.remove());

  it('prints one JSON object per trip, newest first, with tripId, deviceId, startedAt, endedAt (ISO 8601) and every rider', () => {
    const r = run('--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const trips = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { riders: Record<string, unknown>[] });
    expect(trips.map((t) => [t.tripId, t.deviceId])).toEqual([
      [SECOND, 'bus-a'],
      [OTHER, 'bus-b'],
      [FIRST, 'bus-a'],
      [NIGHT, 'bus-n'],
    ]);
    const t = trips[2]!;
    expect(t).toMatchObject({
      startedAt: new Date(first[0]!.wallMs).toISOString(),
      endedAt: new Date(first.at(-1)!.wallMs).toISOString(),
      endReason: 'TRIP_ENDED',
      routeId: 'R1',
      driverWorkerId: 'D000007',
      clock: 'gps',
      refused: 2,
      startPosition: first[0]!.position,
    });
    expect(t.riders.map((x) => x.workerId)).toEqual(first.slice(1, 6).map((e) => e.workerId));
    expect(t.riders[0]).toEqual({
      workerId: first[1]!.workerId,
      boardedAt: new Date(first[1]!.wallMs).toISOString(),
      alightedAt: new Date(first[8]!.wallMs).toISOString(),
      alightedBy: 'scan',
      boardedPosition: first[1]!.position,
      alightedPosition: first[8]!.position,
    });
    expect(t.riders.at(-1)).toMatchObject({ alightedBy: 'trip-end', alightedAt: new Date(first[12]!.wallMs).toISOString() });
    expect(trips[0]!.riders).toHaveLength(3);
  }, 60_000);

  it('filters by device, trip, period and limit', () => {
    const ids = (...args: string[]) => {
      const r = run('--json', ...args);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return r.stdout.trim() === '' ? [] : r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { tripId: string }).tripId);
    };
    expect(ids('--device', 'bus-a')).toEqual([SECOND, FIRST]);
    expect(ids('--trip', OTHER)).toEqual([OTHER]);
    expect(ids('--limit', '1')).toEqual([SECOND]);
    expect(ids('--from', new Date(T0 + 3_000_000).toISOString(), '--to', new Date(T0 + 5_000_000).toISOString())).toEqual([OTHER]);
    // A plain --to date is the whole of that day in the province zone (26 Nov, 12:30 to 14:30 there).
    expect(ids('--to', '2026-11-26', '--device', 'bus-b')).toEqual([OTHER]);
    expect(ids('--to', '2026-11-25')).toEqual([NIGHT]);
    expect(ids('--to', '2026-11-18')).toEqual([]);
    expect(ids('--device', 'gate-1')).toEqual([]);
  }, 120_000);

  it('prints a readable table: a line per trip, a line per rider', () => {
    const r = run('--device', 'bus-b');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^2026-11-26 13:30:\\d\\d to 13:3\\d:\\d\\d ended  bus-b  ${OTHER}  route -  driver D000007  2 rider\\(s\\)  2 refused  clock synced$`));
    expect(lines[1]).toMatch(/^ {4}W020000 {2}boarded 13:30:\d\d {2}alighted 13:3\d:\d\d$/);
    expect(lines[2]).toMatch(/^ {4}W020037 {2}boarded 13:30:\d\d {2}alighted 13:3\d:\d\d at the trip end$/);
    // Past midnight: times on the next day carry their date.
    expect(run('--device', 'bus-n').stdout.trim().split('\n')).toEqual([
      `2026-11-19 23:59:34 to 2026-11-20 00:00:18 ended  bus-n  ${NIGHT}  route -  driver D000007  2 rider(s)  2 refused  clock synced`,
      '    W020000  boarded 23:59:39  alighted 2026-11-20 00:00:07',
      '    W020037  boarded 23:59:45  alighted 2026-11-20 00:00:12 at the trip end',
    ]);
  }, 60_000);

  it('refuses a bad filter with one clear line and exit 2', () => {
    for (const [args, message] of [
      [['--limit', '0'], '--limit: a whole number from 1 to 1000'],
      [['--limit', 'many'], '--limit: a whole number from 1 to 1000'],
      [['--trip', 'nope'], '--trip: a trip id'],
      [['--device', 'bus a'], '--device: '],
      [['--from', 'yesterday'], '--from: '],
      [['--from', '2026-11-27', '--to', '2026-11-26'], '--from must be before --to'],
    ] as const) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    }
  }, 120_000);
});
