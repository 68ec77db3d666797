import { afterEach, describe, expect, it } from 'vitest';
import type { WireEvent } from '../../../../sync/batch-codec.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { AlertBook } from '../../../../sync/hub/notify/alert-book.js';
import { PgHubStore } from '../../../../sync/hub/pg-store.js';
import { parseWorkerList } from '../../../../sync/hub/registry-upload.js';
import { dailySummary, HEALTH_REASONS_HIDDEN, summaryEmail, SummaryError, withoutHealthReasons } from '../../../../sync/hub/reports/daily-summary.js';
import { SqliteHubStore, type HubStore } from '../../../../sync/hub/store.js';
import { directoryBackends } from '../../../helpers/directory-db.js';

const ZONE = 'Asia/Ho_Chi_Minh';
/** 2026-11-26 in the province is [2026-11-25T17:00Z, 2026-11-26T17:00Z). */
const DAY = '2026-11-26';
const MIDNIGHT_BEFORE = Date.parse('2026-11-25T17:00:00Z');
const MIDNIGHT_AFTER = Date.parse('2026-11-26T17:00:00Z');
const NOW = Date.parse('2026-11-26T11:00:00Z'); // 18:00 in the province
const SILENT_AFTER = 15 * 60_000;

let seq = 0;
function ev(wallMs: number, workerId: string | null, decision: 'allow' | 'deny', reasons: string[] = []): WireEvent {
  seq++;
  return {
    seq,
    wallMs,
    monoUs: seq * 1_000_000,
    bootId: '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c11',
    clockSynced: true,
    checkpointId: 'gate-a',
    zoneId: 'factory-1',
    direction: 'entry',
    credentialKind: workerId ? 'pass' : 'unknown',
    workerId,
    codeHash: workerId ? null : 'a3f9c0d1e2b4a5968778695a4b3c2d1e',
    decision,
    reasons,
    source: 'serial',
    policyVersion: 3,
  } as WireEvent;
}

describe.each(directoryBackends)('daily summary on $name', (backend) => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  async function hub() {
    seq = 0;
    const directory = await HubDirectory.open(await backend.target());
    open.push(directory);
    const target = await backend.target();
    const store: HubStore = target.kind === 'postgres' ? await PgHubStore.open(target.url, 2) : new SqliteHubStore(target.path.replace(/hub-directory\.db$/, 'hub.db'));
    open.push(store);
    await directory.addOrganisation({ id: 'org-a', name: 'Công ty May A', kind: 'company' }, NOW - 86_400_000);
    await directory.addOrganisation({ id: 'org-b', name: 'Công ty B', kind: 'company' }, NOW - 86_400_000);
    await directory.addSite({ id: 'site-a', orgId: 'org-a' });
    await directory.addSite({ id: 'site-b', orgId: 'org-b' });
    await directory.addCheckpoint({ id: 'gate-a', siteId: 'site-a', kind: 'gate', orgIds: ['org-a'] });
    await directory.addCheckpoint({ id: 'gate-b', siteId: 'site-b', kind: 'gate', orgIds: ['org-b'] });
    await directory.placeDevices('gate-a', ['kiosk-a1', 'kiosk-a2']);
    await directory.placeDevices('gate-b', ['kiosk-b1']);
    // org-a's list came in at 09:00 province time on the day; org-b never sent one.
    await directory.uploadWorkers('org-a', await parseWorkerList(Buffer.from('Mã nhân viên,Họ và tên\nW-1,Một\nW-2,Hai\n'), ZONE, NOW), { nowMs: Date.parse('2026-11-26T02:00:00Z') });
    return { directory, store, book: new AlertBook({ sql: directory.sql }) };
  }

  it('counts exactly the events of the province day (either side of midnight) for an organisation and for the province, with alerts, silent kiosks and lists', async () => {
    const { directory, store, book } = await hub();
    const orgOf = new Map([
      ['W-1', 'org-a'],
      ['W-2', 'org-a'],
      ['W-9', 'org-b'],
    ]);
    await store.ingestMany([
      {
        deviceId: 'kiosk-a1',
        receivedMs: NOW - 60_000, // heard a minute ago: not silent
        orgOf,
        events: [
          ev(MIDNIGHT_BEFORE - 1, 'W-1', 'allow'), // the day before
          ev(MIDNIGHT_BEFORE, 'W-1', 'allow'),
          { ...ev(MIDNIGHT_BEFORE + 1_800_000, 'W-1', 'allow'), direction: 'exit' }, // a way out: a passage, not an entry
          ev(MIDNIGHT_BEFORE + 3_600_000, 'W-2', 'deny', ['CASE_F0']),
          ev(MIDNIGHT_BEFORE + 7_200_000, 'W-2', 'deny', ['QUARANTINE_ACTIVE', 'PASS_EXPIRED']),
          ev(MIDNIGHT_BEFORE + 8_000_000, null, 'deny', ['MALFORMED_CODE']), // nobody's: the province's only
          ev(MIDNIGHT_AFTER - 1, 'W-1', 'allow'),
          ev(MIDNIGHT_AFTER, 'W-1', 'allow'), // the day after
        ],
      },
    ]);
    seq = 0;
    await store.ingestMany([
      {
        deviceId: 'kiosk-b1',
        receivedMs: NOW - 40 * 60_000, // silent for 40 minutes
        orgOf,
        events: [ev(MIDNIGHT_BEFORE + 10_000, 'W-9', 'allow'), ev(MIDNIGHT_BEFORE + 20_000, 'W-9', 'deny', ['PASS_EXPIRED'])],
      },
    ]);
    const raise = (key: string, orgId: string | null, siteId: string | null, category: 'health' | 'gate' | 'device', atMs: number) =>
      book.raise({ dedupKey: key, source: 'hub', kind: 'test', category, orgId, siteId, checkpointId: null, deviceId: null, seq: null, atMs }, atMs);
    const a1 = await raise('k1', 'org-a', 'site-a', 'health', MIDNIGHT_BEFORE + 3_600_000);
    await raise('k2', 'org-a', 'site-a', 'health', MIDNIGHT_BEFORE + 7_200_000);
    await raise('k3', null, 'site-a', 'gate', MIDNIGHT_BEFORE + 9_000_000); // a gate's: org-a's site
    await raise('k4', 'org-b', 'site-b', 'device', MIDNIGHT_BEFORE + 9_000_000);
    await raise('k5', 'org-a', 'site-a', 'health', MIDNIGHT_BEFORE - 1); // the day before
    await book.acknowledge(a1.alertId, 'manager-a', NOW - 3_600_000);

    const src = { directory, store, zone: ZONE, silentAfterMs: SILENT_AFTER };
    const a = await dailySummary(src, { day: DAY, orgId: 'org-a' }, NOW);
    expect(a).toMatchObject({ day: DAY, orgId: 'org-a', fromMs: MIDNIGHT_BEFORE, toMs: MIDNIGHT_AFTER, asOfMs: NOW });
    expect(a.passages).toEqual({ total: 5, allowed: 3, denied: 2, entries: 2 });
    expect(a.deniedByReason).toEqual({ CASE_F0: 1, QUARANTINE_ACTIVE: 1, PASS_EXPIRED: 1 });
    expect(a.alerts).toEqual({ raised: 3, acknowledged: 1, byCategory: { health: { raised: 2, acknowledged: 1 }, gate: { raised: 1, acknowledged: 0 } } });
    expect(a.silentKiosks).toEqual([{ deviceId: 'kiosk-a2', siteId: 'site-a', lastSeenMs: null }]);
    expect(a.lists).toEqual([{ orgId: 'org-a', listAgeMs: NOW - Date.parse('2026-11-26T02:00:00Z'), todaysList: 'before-deadline', outOfCompliance: false }]);

    const province = await dailySummary(src, { day: DAY }, NOW);
    expect(province.passages).toEqual({ total: 8, allowed: 4, denied: 4, entries: 3 });
    expect(province.deniedByReason).toEqual({ CASE_F0: 1, QUARANTINE_ACTIVE: 1, PASS_EXPIRED: 2, MALFORMED_CODE: 1 });
    expect(province.alerts.raised).toBe(4);
    expect(province.silentKiosks.map((k) => k.deviceId)).toEqual(['kiosk-a2', 'kiosk-b1']);
    // After 15:00 with no list today: org-b's is missing, and it never had one.
    expect(province.lists.map((l) => [l.orgId, l.todaysList, l.outOfCompliance])).toEqual([
      ['org-a', 'before-deadline', false],
      ['org-b', 'missing', true],
    ]);

    // Without health reasons (operators, e-mail): one count in their place.
    expect(withoutHealthReasons(province).deniedByReason).toEqual({ [HEALTH_REASONS_HIDDEN]: 2, PASS_EXPIRED: 2, MALFORMED_CODE: 1 });
    const mail = summaryEmail(withoutHealthReasons(a), 'Công ty May A', ZONE, 'https://console.example/');
    expect(mail.subject).toContain(DAY);
    expect(mail.text).toContain('https://console.example/#reports');
    expect(mail.text).toContain('Lượt qua cổng: 5 (cho phép 3, trong đó lượt vào 2; từ chối 2)');
    expect(mail.text.indexOf('Lượt qua cổng: 5')).toBeLessThan(mail.text.indexOf('Passages: 5 (allowed 3, of which entries 2; denied 2)'));
    for (const secret of ['CASE_F0', 'QUARANTINE', 'F0', 'cách ly', 'W-1', 'W-2', 'Một', 'Hai']) expect(mail.text).not.toContain(secret);
  });

  it('reads a past day as of its end, and refuses an unknown organisation, a malformed date and a day not begun', async () => {
    const { directory, store } = await hub();
    const src = { directory, store, zone: ZONE, silentAfterMs: SILENT_AFTER };
    const past = await dailySummary(src, { day: '2026-11-25', orgId: 'org-a' }, NOW);
    expect(past.asOfMs).toBe(MIDNIGHT_BEFORE - 1);
    // The list of the 26th did not exist at the end of the 25th.
    expect(past.lists).toEqual([{ orgId: 'org-a', listAgeMs: null, todaysList: 'missing', outOfCompliance: true }]);
    expect(past.passages).toEqual({ total: 0, allowed: 0, denied: 0, entries: 0 });
    await expect(dailySummary(src, { orgId: 'nobody' }, NOW)).rejects.toThrow(SummaryError);
    await expect(dailySummary(src, { day: '26/11/2026' }, NOW)).rejects.toThrow(/YYYY-MM-DD/);
    await expect(dailySummary(src, { day: '2026-02-30' }, NOW)).rejects.toThrow(SummaryError);
    await expect(dailySummary(src, { day: '2026-11-27' }, NOW)).rejects.toThrow(/not begun/);
    // No day given: today in the province (18:00 on the 26th).
    expect((await dailySummary(src, {}, NOW)).day).toBe(DAY);
  });
});
