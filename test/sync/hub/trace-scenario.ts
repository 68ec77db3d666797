import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import type { WireEvent } from '../../../sync/batch-codec.js';
import { staticCheckpointCode } from '../../../sync/hub/checkpoint-codes.js';
import type { HubDirectory } from '../../../sync/hub/directory.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinks } from '../../../sync/hub/phone-links.js';
import { PhoneUploads, signPhoneUpload } from '../../../sync/hub/phone-uploads.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import type { HubStore } from '../../../sync/hub/store.js';
import { Visits } from '../../../sync/hub/visits.js';

/**
 * The hand-built tracing scenario of issue 11 (one day at a garment factory, minutes from 07:00 in
 * Hồ Chí Minh time): the case C rode the bus (entry 0, exit 40), worked zone "khu-a" (entry at one of
 * its checkpoints 60, exit at the other 290), ate in the canteen (scan 300) and checked in by phone
 * at the team code of "tổ may 1" (in 400, out 460), with contacts and near misses at each place.
 */
export const T0 = Date.parse('2026-11-20T00:00:00Z');
export const at = (minute: number) => T0 + minute * 60_000;

/** The F1 list, exactly: worker, total overlap minutes, where. Ranked as listed. */
export const EXPECTED_F1 = [
  { workerId: 'Z1', minutes: 100, place: 'zone:xuong-1:khu-a' },
  // By phone only, at the code posted at one of the zone's checkpoints: the same place as its kiosks.
  { workerId: 'PZ', minutes: 60, place: 'zone:xuong-1:khu-a' },
  { workerId: 'P1', minutes: 40, place: 'team:to-may-1' },
  { workerId: 'B1', minutes: 30, place: 'bus:xe-1' },
  { workerId: 'K1', minutes: 20, place: 'canteen:nha-an' },
  { workerId: 'Z3', minutes: 20, place: 'zone:xuong-1:khu-a' },
  { workerId: 'Z4', minutes: 20, place: 'zone:xuong-1:khu-a' },
  { workerId: 'B4', minutes: 10, place: 'bus:xe-1' },
  { workerId: 'K2', minutes: 10, place: 'canteen:nha-an' },
  { workerId: 'B2', minutes: 5, place: 'bus:xe-1' },
] as const;

/** The F2 list on request: worker, minutes, with which F1, where. */
export const EXPECTED_F2 = [
  { workerId: 'P2', minutes: 30, via: 'P1', place: 'team:to-may-1' },
  { workerId: 'F2A', minutes: 20, via: 'K1', place: 'canteen:nha-an' },
  { workerId: 'K3', minutes: 15, via: 'K1', place: 'canteen:nha-an' },
  { workerId: 'K4', minutes: 5, via: 'K1', place: 'canteen:nha-an' },
] as const;

/**
 * Workers of the scenario who are not the case's contacts: near misses, a refused scan, the gate,
 * another zone. Z2 is no F2 either: they left the zone at 55, before Z3 met the case there at 60.
 */
export const NOT_CONTACTS = ['B3', 'K4', 'D1', 'G1', 'Y1'] as const;

const WORKERS = ['C', 'B1', 'B2', 'B3', 'B4', 'Y1', 'K1', 'K2', 'K3', 'K4', 'F2A', 'Z1', 'Z2', 'Z3', 'Z4', 'D1', 'G1', 'P1', 'P2', 'PZ'];

function listed(workerId: string, line: number): ListedWorker {
  return { line, workerId, fullName: `Công nhân ${workerId}`, team: 'Tổ May 1', birthYear: 1990, sex: 'female', idNumber: null, phone: null, residence: null, siteId: null, testResult: null, testedAtMs: null, vaccineDoses: 2 };
}

type Passage = [worker: string, minute: number, direction: 'entry' | 'exit', options?: { deny?: boolean; checkpoint?: string; zone?: string }];

/** Each device's passages: the checkpoint the kiosk reports, and (for the hub) where it is placed. */
const DEVICES: { device: string; checkpoint: string; zone: string; placedAt: string | null; synced: boolean; passages: Passage[] }[] = [
  { device: 'kiosk-gate', checkpoint: 'cong-1', zone: 'xuong-1', placedAt: 'cong-1', synced: true, passages: [['C', -5, 'entry'], ['G1', -4, 'entry']] },
  {
    device: 'kiosk-bus', checkpoint: 'xe-1', zone: 'xe-1', placedAt: 'xe-1', synced: true,
    passages: [['B2', -30, 'entry'], ['C', 0, 'entry'], ['B2', 5, 'exit'], ['B1', 10, 'entry'], ['C', 40, 'exit'], ['B1', 40, 'exit'], ['B3', 45, 'entry'], ['B3', 60, 'exit']],
  },
  {
    device: 'kiosk-an', checkpoint: 'nha-an', zone: 'nha-an', placedAt: 'nha-an', synced: true,
    // K1 scans twice within a sitting (out for a moment and back): one stay, 310 to 345.
    passages: [['C', 300, 'entry'], ['K1', 310, 'entry'], ['K1', 315, 'entry'], ['K3', 330, 'entry'], ['K4', 340, 'entry'], ['F2A', 600, 'entry'], ['K1', 610, 'entry']],
  },
  // A second kiosk on the bus that still sends the bus's old checkpoint id: its place is where the hub put it.
  { device: 'kiosk-bus2', checkpoint: 'xe-cu', zone: 'xe-1', placedAt: 'xe-1', synced: true, passages: [['B4', 20, 'entry'], ['B4', 30, 'exit']] },
  // A kiosk the hub has not placed: its events count at the registered checkpoint they name.
  { device: 'kiosk-loose', checkpoint: 'nha-an', zone: 'nha-an', placedAt: null, synced: true, passages: [['K2', 280, 'entry']] },
  {
    device: 'kiosk-za1', checkpoint: 'khu-a1', zone: 'khu-a', placedAt: 'khu-a1', synced: true,
    passages: [['Z3', -880, 'entry'], ['Z2', 0, 'entry'], ['C', 60, 'entry'], ['D1', 120, 'entry', { deny: true }], ['Z1', 200, 'exit']],
  },
  { device: 'kiosk-za2', checkpoint: 'khu-a2', zone: 'khu-a', placedAt: 'khu-a2', synced: true, passages: [['Z2', 55, 'exit'], ['Z1', 100, 'entry'], ['C', 290, 'exit']] },
  // Another zone of the same site, at the same hours: not the case's place.
  { device: 'kiosk-zb1', checkpoint: 'khu-b1', zone: 'khu-b', placedAt: 'khu-b1', synced: true, passages: [['Y1', 60, 'entry'], ['Y1', 290, 'exit']] },
  // A kiosk whose clock the hub could not date: its times are only its own word.
  { device: 'kiosk-za3', checkpoint: 'khu-a1', zone: 'khu-a', placedAt: 'khu-a1', synced: false, passages: [['Z4', 150, 'entry'], ['Z4', 170, 'exit']] },
];

/** Phone check-ins at the team code (no kiosk there) unless another checkpoint is named: worker, minute, in/out. */
const CHECK_INS: [worker: string, minute: number, direction: 'in' | 'out', checkpoint?: string][] = [
  ['PZ', 120, 'in', 'khu-a1'],
  ['PZ', 180, 'out', 'khu-a1'],
  ['C', 400, 'in'],
  ['P1', 420, 'in'],
  ['C', 460, 'out'],
  ['P2', 470, 'in'],
  ['P1', 500, 'out'],
];

function eventsOf(d: (typeof DEVICES)[number]): WireEvent[] {
  return d.passages
    .sort((a, b) => a[1] - b[1])
    .map(([worker, minute, direction, o], i) => ({
      seq: i + 1,
      wallMs: at(minute),
      monoUs: 1_000_000_000 + (minute + 1_000) * 60_000_000,
      bootId: `boot-${d.device}`,
      clockSynced: d.synced,
      checkpointId: o?.checkpoint ?? d.checkpoint,
      zoneId: o?.zone ?? d.zone,
      direction,
      credentialKind: 'pass',
      workerId: worker,
      codeHash: null,
      decision: o?.deny ? 'deny' : 'allow',
      reasons: o?.deny ? ['DECLARATION_MISSING'] : [],
      source: 'serial',
      policyVersion: 1,
    }));
}

/**
 * Registers the factory, its checkpoints and kiosks, lists the workers, stores the kiosks' events
 * and records the phone check-ins through the real upload path (links, passes, signed uploads).
 * Returns the Visits the hub would have.
 */
export async function buildTraceScenario(store: HubStore, directory: HubDirectory): Promise<{ visits: Visits; checkpointCodeKey: KeyObject; phonePassKey: KeyObject }> {
  await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, at(-2_000));
  await directory.addSite({ id: 'xuong-1', orgId: 'may-a', name: 'Xưởng 1' }, at(-2_000));
  const checkpoints = [
    { id: 'cong-1', name: 'Cổng chính', kind: 'gate' },
    { id: 'xe-1', name: 'Xe đưa rước 1', kind: 'bus' },
    { id: 'nha-an', name: 'Nhà ăn ca 1', kind: 'canteen' },
    { id: 'khu-a1', name: 'Khu A cửa 1', kind: 'zone' },
    { id: 'khu-a2', name: 'Khu A cửa 2', kind: 'zone' },
    { id: 'khu-b1', name: 'Khu B', kind: 'zone' },
    { id: 'to-may-1', name: 'Tổ may 1', kind: 'team' },
  ] as const;
  for (const c of checkpoints) await directory.addCheckpoint({ ...c, siteId: 'xuong-1' }, at(-2_000));
  for (const d of DEVICES) if (d.placedAt) await directory.placeDevices(d.placedAt, [d.device], at(-2_000));
  await directory.uploadWorkers('may-a', WORKERS.map((w, i) => listed(w, i + 2)), { nowMs: at(-2_000) });
  for (const d of DEVICES) await store.ingest(d.device, eventsOf(d), at(1_000), null);
  // Kiosks moved after the day: their past stays where they were then. The second bus kiosk goes to
  // the team; the loose kiosk, placed for the first time, keeps its earlier events at the canteen they name.
  await directory.placeDevices('to-may-1', ['kiosk-bus2'], at(2_000));
  await directory.placeDevices('xe-1', ['kiosk-loose'], at(2_000));

  let now = at(-1_500);
  const phonePassKey = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
  const checkpointCodeKey = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
  const links = new PhoneLinks({ sql: directory.sql, phonePassKey, issuer: 'hub.1', now: () => now });
  const passes = new PassRegistry({ sql: directory.sql, now: () => now });
  const visits = new Visits({ sql: directory.sql, uploads: new PhoneUploads(phonePassKey, passes), checkpointCodeKey, now: () => now });
  const phones = new Map<string, { pass: Uint8Array; key: KeyObject }>();
  for (const workerId of new Set(CHECK_INS.map(([w]) => w))) {
    const [made] = await links.make({ orgId: 'may-a', workerIds: [workerId], madeBy: 'test' });
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    phones.set(workerId, { pass: (await links.redeem(made!.token, pair.publicKey.export({ format: 'jwk' }))).pass, key: pair.privateKey });
  }
  let n = 0;
  for (const [workerId, minute, direction, checkpoint] of CHECK_INS) {
    const code = staticCheckpointCode(checkpointCodeKey, checkpoint ?? 'to-may-1');
    const phone = phones.get(workerId)!;
    // Uploaded promptly: the hub takes the phone's time as verified.
    now = at(minute) + 2_000;
    const id = `tracevisit-${String(++n).padStart(11, '0')}`;
    await visits.submit(signPhoneUpload(phone.pass, JSON.stringify({ kind: 'visit', id, scannedAtMs: at(minute), code, direction }), phone.key));
  }
  return { visits, checkpointCodeKey, phonePassKey };
}

/** The evening shuttle (issue 13): one bus unit, two trips; C rides the first. Trip ids as a bus unit makes them. */
export const SHUTTLE_TRIP_1 = `T${at(520).toString(36)}-0000a1`;
export const SHUTTLE_TRIP_2 = `T${at(600).toString(36)}-0000a2`;

/**
 * The scenario extended by a bus trip: the shuttle "xe-2" (a bus checkpoint, its unit `bus-shuttle`)
 * runs two trips after the day. Trip 1 (520 to 580): driver D9's card opens it, C boards at 525, R1
 * at 530, RX is refused (full) at 535, R2 rides 540 to 550 and scans out; the driver ends it with the
 * screen's button (no worker), which alights C and R1. Trip 2 (600 to 640), same bus and driver: R3
 * rides 605 to 620; D9's card ends it. Expected for C, at trip 1 only: D9 55 min, R1 50, R2 10;
 * R3 (another trip of the same bus) and RX (refused) are no contacts.
 */
export async function addShuttleTrips(store: HubStore, directory: HubDirectory): Promise<void> {
  await directory.addCheckpoint({ id: 'xe-2', name: 'Xe đưa rước ca 2', kind: 'bus', siteId: 'xuong-1' }, at(-2_000));
  await directory.placeDevices('xe-2', ['bus-shuttle'], at(-2_000));
  type Row = [minute: number, worker: string | null, direction: 'entry' | 'exit', kind: 'scan' | 'deny' | 'TRIP_STARTED' | 'TRIP_ENDED' | 'ALIGHTED_AT_TRIP_END', trip: string];
  const rows: Row[] = [
    [520, 'D9', 'entry', 'TRIP_STARTED', SHUTTLE_TRIP_1],
    [525, 'C', 'entry', 'scan', SHUTTLE_TRIP_1],
    [530, 'R1', 'entry', 'scan', SHUTTLE_TRIP_1],
    [535, 'RX', 'entry', 'deny', SHUTTLE_TRIP_1],
    [540, 'R2', 'entry', 'scan', SHUTTLE_TRIP_1],
    [550, 'R2', 'exit', 'scan', SHUTTLE_TRIP_1],
    [580, 'C', 'exit', 'ALIGHTED_AT_TRIP_END', SHUTTLE_TRIP_1],
    [580, 'R1', 'exit', 'ALIGHTED_AT_TRIP_END', SHUTTLE_TRIP_1],
    [580, null, 'exit', 'TRIP_ENDED', SHUTTLE_TRIP_1],
    [600, 'D9', 'entry', 'TRIP_STARTED', SHUTTLE_TRIP_2],
    [605, 'R3', 'entry', 'scan', SHUTTLE_TRIP_2],
    [620, 'R3', 'exit', 'scan', SHUTTLE_TRIP_2],
    [640, 'D9', 'exit', 'TRIP_ENDED', SHUTTLE_TRIP_2],
  ];
  const events: WireEvent[] = rows.map(([minute, worker, direction, kind, tripId], i) => ({
    seq: i + 1,
    wallMs: at(minute),
    monoUs: 1_000_000_000 + (minute + 1_000) * 60_000_000 + i,
    bootId: 'boot-bus-shuttle',
    clockSynced: false,
    clockSource: 'gps',
    checkpointId: 'xe-2',
    zoneId: 'xe-2',
    direction,
    credentialKind: worker === null ? 'unknown' : 'pass',
    workerId: worker,
    codeHash: worker === null ? '0f1e2d3c4b5a69788796a5b4c3d2e1f0' : null,
    decision: kind === 'deny' ? 'deny' : 'allow',
    reasons: kind === 'deny' ? ['BUS_FULL'] : kind === 'scan' ? [] : [kind],
    source: kind === 'scan' || kind === 'deny' ? 'serial' : 'trip',
    policyVersion: 1,
    tripId,
    position: { lat: 10.8 + minute / 1e5, lon: 106.6 },
  }));
  await store.ingest('bus-shuttle', events, at(1_000), null);
}

/** Visitors of the day (issue 14): pseudonyms as a kiosk makes them (key id `k1`). */
export const V1 = `vk1.${'1'.repeat(32)}`;
export const V2 = `vk1.${'2'.repeat(32)}`;
export const V3 = `vk1.${'3'.repeat(32)}`;
export const V4 = `vk1.${'4'.repeat(32)}`;
export const V5 = `vk1.${'5'.repeat(32)}`;
export const V6 = `vk1.${'6'.repeat(32)}`;

type VisitorRow = [minute: number, visitor: string, direction: 'entry' | 'exit', kind: 'register' | 'approve' | 'pass' | 'deny', visit?: { name: string; host: string; purpose: string }];

/**
 * The scenario's visitors (synthetic names). At the gate "cong-1" (a kiosk of its own): V1 registers
 * at 50, enters 55, leaves 200 and in between works in zone khu-a 100 to 130 (an F1 of C, 30 min);
 * V2 enters at 440 and never scans out (on site with C at the team 440 to 460); V3 is in 110 to 125;
 * V4 is refused at the gate at 100 (no presence); V6 comes at 600 and leaves at 620 (after C's day).
 * V5 has no gate event but eats at 335 in the canteen: not with C (330), with K1 (to 345): an F2.
 */
export async function addVisitors(store: HubStore, directory: HubDirectory): Promise<void> {
  await directory.placeDevices('cong-1', ['kiosk-gate-v'], at(-2_000));
  await directory.placeDevices('khu-a1', ['kiosk-za-v'], at(-2_000));
  await directory.placeDevices('nha-an', ['kiosk-an-v'], at(-2_000));
  const visit = (name: string, host: string, purpose: string) => ({ name, host, purpose });
  const devices: { device: string; checkpoint: string; zone: string; rows: VisitorRow[] }[] = [
    {
      device: 'kiosk-gate-v', checkpoint: 'cong-1', zone: 'xuong-1',
      rows: [
        [50, V1, 'entry', 'register', visit('Khách Một', 'Phòng nhân sự', 'Phỏng vấn')],
        [54, V1, 'entry', 'approve'],
        [55, V1, 'entry', 'pass'],
        [90, V4, 'entry', 'register', visit('Khách Bốn', 'Kho', 'Giao hàng')],
        [100, V4, 'entry', 'deny'],
        [105, V3, 'entry', 'register', visit('Khách Ba', 'Bảo trì', 'Sửa máy')],
        [110, V3, 'entry', 'pass'],
        [125, V3, 'exit', 'pass'],
        [200, V1, 'exit', 'pass'],
        [435, V2, 'entry', 'register', visit('Khách Hai', 'Tổ may 1', 'Kiểm hàng')],
        [440, V2, 'entry', 'pass'],
        [595, V6, 'entry', 'register', visit('Khách Sáu', 'Văn phòng', 'Họp')],
        [600, V6, 'entry', 'pass'],
        [620, V6, 'exit', 'pass'],
      ],
    },
    { device: 'kiosk-za-v', checkpoint: 'khu-a1', zone: 'khu-a', rows: [[100, V1, 'entry', 'pass'], [130, V1, 'exit', 'pass']] },
    { device: 'kiosk-an-v', checkpoint: 'nha-an', zone: 'nha-an', rows: [[320, V5, 'entry', 'register', visit('Khách Năm', 'Nhà ăn', 'Giao thực phẩm')], [335, V5, 'entry', 'pass']] },
  ];
  for (const d of devices) {
    const events: WireEvent[] = d.rows.map(([minute, visitorId, direction, kind, details], i) => ({
      seq: i + 1,
      wallMs: at(minute),
      monoUs: 1_000_000_000 + (minute + 1_000) * 60_000_000 + i,
      bootId: `boot-${d.device}`,
      clockSynced: true,
      checkpointId: d.checkpoint,
      zoneId: d.zone,
      direction,
      credentialKind: 'cccd',
      workerId: null,
      codeHash: null,
      decision: kind === 'deny' ? 'deny' : 'allow',
      reasons: kind === 'register' ? ['VISITOR_REGISTERED'] : kind === 'approve' ? ['VISITOR_APPROVED'] : kind === 'deny' ? ['VISITOR_APPROVAL_PENDING'] : [],
      source: kind === 'register' || kind === 'approve' ? 'visitor' : 'camera',
      policyVersion: 1,
      visitorId,
      ...(details ? { visit: { ...details, noticeVersion: 1 } } : kind === 'approve' ? { visit: { decidedBy: 'sup-1' } } : {}),
    }));
    await store.ingest(d.device, events, at(1_000), null);
  }
}
