import { tz } from '@date-fns/tz';
import { startOfDay } from 'date-fns';
import type { DenyReason } from '../../base/common/reasons.js';
import type { WireEvent } from '../../sync/batch-codec.js';
import type { CheckpointKind } from '../../sync/hub/directory.js';

/**
 * The demo's history at the hub: two days of passages at a bus, a cutting zone and a canteen of the
 * demo site, as kiosks there would have sent them, so the console has something to trace. The case
 * is W0005 (confirmed today, on the demo roster as F0); around them: contacts on the bus, in the
 * zone and at the canteen, and near misses (the afternoon bus, the zone after the case left, the
 * canteen outside the sitting window, a refusal). The kiosks at these places exist only in this
 * history: they are not placed at the site (a placed device that never reports would be a silent
 * kiosk), so the hub knows their places by the checkpoint ids their events carry.
 */
export const DEMO_PLACES: readonly { id: string; name: string; kind: CheckpointKind; device: string; zone: string }[] = [
  { id: 'bus-07', name: 'Xe đưa rước 07', kind: 'bus', device: 'demo-bus-07', zone: 'bus-07' },
  { id: 'zone-cat', name: 'Xưởng cắt', kind: 'zone', device: 'demo-zone-cat', zone: 'xuong-cat' },
  { id: 'canteen-1', name: 'Nhà ăn ca 1', kind: 'canteen', device: 'demo-canteen-1', zone: 'nha-an' },
];

/** The demo's index case: confirmed today, traced at every demo start. */
export const DEMO_CASE = 'W0005';

type Place = (typeof DEMO_PLACES)[number]['id'];
interface Passage {
  place: Place;
  worker: string;
  /** Minutes after midnight (province time) of the day. */
  at: number;
  direction: 'entry' | 'exit';
  denied?: DenyReason;
}

const hm = (h: number, m = 0) => h * 60 + m;

/** One ordinary working day before the case was confirmed. */
function workingDay(): Passage[] {
  const p = (place: Place, worker: string, at: number, direction: 'entry' | 'exit' = 'entry', denied?: DenyReason): Passage => ({ place, worker, at, direction, ...(denied ? { denied } : {}) });
  return [
    // The morning bus: the case with An and Giang; Hạnh takes the afternoon one only.
    p('bus-07', 'W0005', hm(6, 30)),
    p('bus-07', 'W0001', hm(6, 32)),
    p('bus-07', 'W0006', hm(6, 35)),
    p('bus-07', 'W0005', hm(7, 5), 'exit'),
    p('bus-07', 'W0001', hm(7, 5), 'exit'),
    p('bus-07', 'W0006', hm(7, 6), 'exit'),
    p('bus-07', 'W0007', hm(17, 10)),
    p('bus-07', 'W0007', hm(17, 40), 'exit'),
    // The cutting zone: the case in the morning and the afternoon; An all day; Khánh only after the case left (with Giang: an F2).
    p('zone-cat', 'W0005', hm(7, 15)),
    p('zone-cat', 'W0001', hm(7, 20)),
    p('zone-cat', 'W0005', hm(11, 30), 'exit'),
    p('zone-cat', 'W0005', hm(12, 10)),
    p('zone-cat', 'W0005', hm(16, 30), 'exit'),
    p('zone-cat', 'W0001', hm(16, 0), 'exit'),
    // Giang comes in after lunch and never scans out: her presence ends at the reset time.
    p('zone-cat', 'W0006', hm(13, 0)),
    p('zone-cat', 'W0008', hm(16, 45)),
    p('zone-cat', 'W0008', hm(20, 0), 'exit'),
    // The canteen: sittings 30 minutes long; Bình and Dung overlap the case's, Hạnh comes too late, Cường is refused.
    p('canteen-1', 'W0005', hm(11, 35)),
    p('canteen-1', 'W0004', hm(11, 40)),
    p('canteen-1', 'W0002', hm(11, 50)),
    p('canteen-1', 'W0003', hm(11, 36), 'entry', 'QUARANTINE_ACTIVE'),
    p('canteen-1', 'W0007', hm(12, 20)),
  ];
}

/** Each demo place's events for the two days before `nowMs` (province zone), one batch per device; seqs are stable per day so a restart resends, not duplicates. */
export function demoHistory(nowMs: number, zone: string): Map<string, WireEvent[]> {
  const today = startOfDay(new Date(nowMs), { in: tz(zone) }).getTime();
  const byDevice = new Map<string, WireEvent[]>();
  for (const daysAgo of [2, 1]) {
    const day = today - daysAgo * 86_400_000;
    // Sequence numbers from the day's number, so each day of history has its own and a second start
    // the same day sends the same events again (the hub keeps them once).
    const dayNumber = Math.floor(day / 86_400_000);
    const passages = workingDay().sort((a, b) => a.at - b.at);
    const counters = new Map<string, number>();
    for (const p of passages) {
      const place = DEMO_PLACES.find((x) => x.id === p.place)!;
      const n = (counters.get(place.device) ?? 0) + 1;
      counters.set(place.device, n);
      const wallMs = day + p.at * 60_000;
      const events = byDevice.get(place.device) ?? [];
      events.push({
        seq: dayNumber * 1_000 + n,
        wallMs,
        monoUs: (wallMs - day) * 1_000 + 1,
        bootId: `00000000-0000-4000-8000-${String(dayNumber).padStart(12, '0')}`,
        clockSynced: true,
        checkpointId: place.id,
        zoneId: place.zone,
        direction: p.direction,
        credentialKind: 'pass',
        workerId: p.worker,
        codeHash: null,
        decision: p.denied ? 'deny' : 'allow',
        reasons: p.denied ? [p.denied] : [],
        source: 'serial',
        policyVersion: 1,
      });
      byDevice.set(place.device, events);
    }
  }
  return byDevice;
}
