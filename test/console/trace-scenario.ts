import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import type { WireEvent } from '../../sync/batch-codec.js';
import { staticCheckpointCode } from '../../sync/hub/checkpoint-codes.js';
import type { HubDirectory } from '../../sync/hub/directory.js';
import { PassRegistry } from '../../sync/hub/passes.js';
import { PhoneLinks } from '../../sync/hub/phone-links.js';
import { PhoneUploads, signPhoneUpload } from '../../sync/hub/phone-uploads.js';
import type { ListedWorker } from '../../sync/hub/registry-upload.js';
import type { HubStore } from '../../sync/hub/store.js';
import { Visits } from '../../sync/hub/visits.js';

export const ZONE = 'Asia/Ho_Chi_Minh';
/** A time in the province zone (UTC+7), e.g. at('2026-11-20 06:30'). */
export const at = (local: string): number => Date.parse(`${local.replace(' ', 'T')}:00+07:00`);
/** When the scenario's traces are started: the default 14 days cover both of its days. */
export const SCENARIO_NOW = at('2026-11-25 10:00');
/** A name a spreadsheet would run as a formula, unless guarded. */
export const FORMULA_NAME = '=HYPERLINK("http://x.invalid","Bấm")';

/**
 * A hand-built tracing scenario (the same in the API and the browser tests): two organisations on
 * one site whose checkpoints are a gate, a cutting zone, a canteen, a bus and a team checkpoint
 * with a posted code (no kiosk). The case C1 (may-a):
 * - 20 Nov: rides bus xe-01 06:30–07:00 (B1 of may-b 06:40–07:10: 20 min); eats at 11:30 (A1,
 *   whose canteen kiosk's clock is unverified, at 11:45: 15 min; A4 at 12:10, 40 min later: a near
 *   miss with a 30-minute window); passes the gate with A6 (a gate makes no contact);
 * - 21 Nov: works the zone 08:00–12:00 (A2 10:00–14:00: 120 min; A5 from 12:30: a near miss; B2
 *   refused at the zone at 09:00: no presence); checks in by phone at the team code 13:00–15:00 (A3
 *   by phone 14:00–16:00: 60 min).
 * Expected F1 by rank: A2 (120), A3 (60), B1 (20), A1 (15).
 */
export const EXPECTED = [
  { workerId: 'a2', rank: 1, orgId: 'may-a', place: 'Khu cắt', kind: 'zone', day: '2026-11-21', from: '10:00', to: '12:00', minutes: 120, source: 'kiosk', unverified: false },
  { workerId: 'a3', rank: 2, orgId: 'may-a', place: 'Tổ May 1', kind: 'team', day: '2026-11-21', from: '14:00', to: '15:00', minutes: 60, source: 'phone', unverified: false },
  { workerId: 'b1', rank: 3, orgId: 'may-b', place: 'Xe 01', kind: 'bus', day: '2026-11-20', from: '06:40', to: '07:00', minutes: 20, source: 'kiosk', unverified: false },
  { workerId: 'a1', rank: 4, orgId: 'may-a', place: 'Nhà ăn', kind: 'canteen', day: '2026-11-20', from: '11:45', to: '12:00', minutes: 15, source: 'kiosk', unverified: true },
] as const;

export const NAMES: Record<string, string> = {
  c1: 'Nguyễn Văn Ca',
  a1: FORMULA_NAME,
  a2: 'Trần Thị Hai',
  a3: 'Lê Văn Ba',
  a4: 'Phạm Thị Bốn',
  a5: 'Hoàng Văn Năm',
  a6: 'Đỗ Thị Sáu',
  b1: 'Vũ Văn Một',
  b2: 'Bùi Thị Hai',
};

function listed(workerId: string, team: string): ListedWorker {
  return { line: 2, workerId, fullName: NAMES[workerId]!, team, birthYear: 1990, sex: 'female', idNumber: null, phone: null, residence: null, siteId: null, testResult: null, testedAtMs: null, vaccineDoses: 2 };
}

interface Passage {
  worker: string;
  time: string;
  direction: 'entry' | 'exit';
  decision?: 'allow' | 'deny';
}

function events(device: string, checkpointId: string, zoneId: string, passages: Passage[], firstSeq = 1, synced = true): WireEvent[] {
  return passages.map((p, i) => ({
    seq: firstSeq + i,
    wallMs: at(p.time),
    monoUs: 1_000_000 + (firstSeq + i) * 1_000_000,
    bootId: synced ? '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c11' : '9a1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c22',
    clockSynced: synced,
    checkpointId,
    zoneId,
    direction: p.direction,
    credentialKind: 'pass',
    workerId: p.worker,
    codeHash: null,
    decision: p.decision ?? 'allow',
    reasons: p.decision === 'deny' ? ['DECLARATION_MISSING'] : [],
    source: 'serial',
    policyVersion: 3,
  }));
}

/** Builds the scenario in a real directory and hub store (events ingested, phone visits uploaded signed); returns the Visits the Tracer reads. */
export async function buildTraceScenario(directory: HubDirectory, store: HubStore): Promise<{ visits: Visits }> {
  const t0 = at('2026-11-19 08:00');
  await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, t0);
  await directory.addOrganisation({ id: 'may-b', name: 'Công ty May B', kind: 'company' }, t0);
  await directory.addSite({ id: 'xuong-1', orgId: 'may-a', name: 'Xưởng 1' }, t0);
  await directory.addSite({ id: 'van-phong-b', orgId: 'may-b', name: 'Văn phòng B' }, t0);
  const both = ['may-a', 'may-b'];
  await directory.addCheckpoint({ id: 'cong-1', siteId: 'xuong-1', name: 'Cổng 1', kind: 'gate', orgIds: both }, t0);
  await directory.addCheckpoint({ id: 'khu-cat', siteId: 'xuong-1', name: 'Khu cắt', kind: 'zone', orgIds: both }, t0);
  await directory.addCheckpoint({ id: 'nha-an', siteId: 'xuong-1', name: 'Nhà ăn', kind: 'canteen', orgIds: both }, t0);
  await directory.addCheckpoint({ id: 'xe-01', siteId: 'xuong-1', name: 'Xe 01', kind: 'bus', orgIds: both }, t0);
  await directory.addCheckpoint({ id: 'to-may-1', siteId: 'xuong-1', name: 'Tổ May 1', kind: 'team', orgIds: both }, t0);
  await directory.placeDevices('cong-1', ['kiosk-gate'], t0);
  await directory.placeDevices('khu-cat', ['kiosk-zone'], t0);
  await directory.placeDevices('nha-an', ['kiosk-canteen'], t0);
  await directory.placeDevices('xe-01', ['kiosk-bus'], t0);
  await directory.uploadWorkers('may-a', ['c1', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((w) => listed(w, w === 'a3' ? 'Tổ May 1' : 'Tổ Cắt')), { nowMs: t0 });
  await directory.uploadWorkers('may-b', ['b1', 'b2'].map((w) => listed(w, 'Tổ Xe')), { nowMs: t0 });

  const received = at('2026-11-21 20:00');
  await store.ingest('kiosk-bus', events('kiosk-bus', 'xe-01', 'xuong-1', [
    { worker: 'c1', time: '2026-11-20 06:30', direction: 'entry' },
    { worker: 'b1', time: '2026-11-20 06:40', direction: 'entry' },
    { worker: 'c1', time: '2026-11-20 07:00', direction: 'exit' },
    { worker: 'b1', time: '2026-11-20 07:10', direction: 'exit' },
  ]), received);
  await store.ingest('kiosk-gate', events('kiosk-gate', 'cong-1', 'xuong-1', [
    { worker: 'c1', time: '2026-11-20 07:05', direction: 'entry' },
    { worker: 'a6', time: '2026-11-20 07:05', direction: 'entry' },
  ]), received);
  // The case's and A4's canteen scans on a synchronised clock; A1's on a boot whose clock was never set.
  await store.ingest('kiosk-canteen', events('kiosk-canteen', 'nha-an', 'xuong-1', [{ worker: 'c1', time: '2026-11-20 11:30', direction: 'entry' }], 1), received);
  await store.ingest('kiosk-canteen', events('kiosk-canteen', 'nha-an', 'xuong-1', [{ worker: 'a1', time: '2026-11-20 11:45', direction: 'entry' }], 2, false), received);
  await store.ingest('kiosk-canteen', events('kiosk-canteen', 'nha-an', 'xuong-1', [{ worker: 'a4', time: '2026-11-20 12:10', direction: 'entry' }], 3), received);
  await store.ingest('kiosk-zone', events('kiosk-zone', 'khu-cat', 'xuong-1', [
    { worker: 'c1', time: '2026-11-21 08:00', direction: 'entry' },
    { worker: 'b2', time: '2026-11-21 09:00', direction: 'entry', decision: 'deny' },
    { worker: 'a2', time: '2026-11-21 10:00', direction: 'entry' },
    { worker: 'c1', time: '2026-11-21 12:00', direction: 'exit' },
    { worker: 'a5', time: '2026-11-21 12:30', direction: 'entry' },
    { worker: 'a5', time: '2026-11-21 13:30', direction: 'exit' },
    { worker: 'a2', time: '2026-11-21 14:00', direction: 'exit' },
  ]), received);

  // Phone check-ins at the team checkpoint's posted code, each uploaded promptly (verified times).
  let now = t0;
  const phonePassKey = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
  const codeKey = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
  const passes = new PassRegistry({ sql: directory.sql, now: () => now });
  const links = new PhoneLinks({ sql: directory.sql, phonePassKey, issuer: 'hub.1', now: () => now });
  const visits = new Visits({ sql: directory.sql, uploads: new PhoneUploads(phonePassKey, passes), checkpointCodeKey: codeKey, now: () => now });
  const code = staticCheckpointCode(codeKey, 'to-may-1');
  const phones = new Map<string, { pass: Uint8Array; key: ReturnType<typeof generateKeyPairSync>['privateKey'] }>();
  for (const made of await links.make({ orgId: 'may-a', workerIds: ['c1', 'a3'], madeBy: 'op' })) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    phones.set(made.workerId, { pass: (await links.redeem(made.token, pair.publicKey.export({ format: 'jwk' }))).pass, key: pair.privateKey });
  }
  let n = 0;
  const checkIn = async (worker: string, time: string, direction: 'in' | 'out') => {
    const phone = phones.get(worker)!;
    now = at(time) + 5_000;
    const id = `visit${String(++n).padStart(17, '0')}`;
    await visits.submit(signPhoneUpload(phone.pass, JSON.stringify({ kind: 'visit', id, scannedAtMs: at(time), code, direction }), phone.key));
  };
  await checkIn('c1', '2026-11-21 13:00', 'in');
  await checkIn('a3', '2026-11-21 14:00', 'in');
  await checkIn('c1', '2026-11-21 15:00', 'out');
  await checkIn('a3', '2026-11-21 16:00', 'out');
  return { visits };
}

/** The scenario's visitors (issue 14), by the pseudonyms a kiosk makes (key id `k1`); synthetic names. */
export const VISITOR_A = `vk1.${'a'.repeat(32)}`;
export const VISITOR_B = `vk1.${'b'.repeat(32)}`;

/**
 * Visitors at the site xuong-1 (may-a's): VISITOR_A registers at the gate 21 Nov 08:50, enters
 * 08:55, works in the cutting zone 09:00–09:30 (with C1: an F1 of 30 min) and leaves at 10:00 (on
 * site with C1 in the zone 08:55–10:00: 65 min). VISITOR_B is on site 20 Nov 06:00–08:00 (with B1
 * on the bus 06:40–07:10, with C1 on it 06:30–07:00), never at a narrow place.
 */
export async function addVisitors(directory: HubDirectory, store: HubStore): Promise<void> {
  const t0 = at('2026-11-19 08:00');
  await directory.placeDevices('cong-1', ['kiosk-gate-v'], t0);
  await directory.placeDevices('khu-cat', ['kiosk-zone-v'], t0);
  type Row = [time: string, visitorId: string, direction: 'entry' | 'exit', visit?: { name: string; host: string; purpose: string }];
  const make = (device: string, checkpointId: string, rows: Row[]): WireEvent[] =>
    rows.map(([time, visitorId, direction, visit], i) => ({
      seq: i + 1,
      wallMs: at(time),
      monoUs: 1_000_000 + (i + 1) * 1_000_000,
      bootId: '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c33',
      clockSynced: true,
      checkpointId,
      zoneId: 'xuong-1',
      direction,
      credentialKind: 'cccd',
      workerId: null,
      codeHash: null,
      decision: 'allow',
      reasons: visit ? ['VISITOR_REGISTERED'] : [],
      source: visit ? 'visitor' : 'camera',
      policyVersion: 3,
      visitorId,
      ...(visit ? { visit: { ...visit, noticeVersion: 1 } } : {}),
    }));
  const received = at('2026-11-21 20:00');
  await store.ingest('kiosk-gate-v', make('kiosk-gate-v', 'cong-1', [
    ['2026-11-20 05:55', VISITOR_B, 'entry', { name: 'Khách Bê', host: 'Đội xe', purpose: 'Bảo dưỡng xe' }],
    ['2026-11-20 06:00', VISITOR_B, 'entry'],
    ['2026-11-20 08:00', VISITOR_B, 'exit'],
    ['2026-11-21 08:50', VISITOR_A, 'entry', { name: 'Khách A', host: 'Tổ Cắt', purpose: 'Kiểm hàng' }],
    ['2026-11-21 08:55', VISITOR_A, 'entry'],
    ['2026-11-21 10:00', VISITOR_A, 'exit'],
  ]), received);
  await store.ingest('kiosk-zone-v', make('kiosk-zone-v', 'khu-cat', [
    ['2026-11-21 09:00', VISITOR_A, 'entry'],
    ['2026-11-21 09:30', VISITOR_A, 'exit'],
  ]), received);
}
