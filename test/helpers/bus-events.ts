import type { WireEvent } from '../../sync/batch-codec.js';
import type { DenyReason } from '../../base/common/reasons.js';

/**
 * A bus unit's trip as it goes on the wire (issue 13, base/common/bus.ts): the driver's card opens it,
 * riders board (one refused as the bus is full, one scanned where the GPS had no fix), some scan out,
 * the trip's end alights the rest (ALIGHTED_AT_TRIP_END, just before TRIP_ENDED). Times from the GPS
 * (clockSource 'gps') when `gpsClock`, else the system's (synchronised).
 */
export function busTripEvents(o: { firstSeq?: number; startMs?: number; tripId?: string; routeId?: string; riders?: number; gpsClock?: boolean } = {}): WireEvent[] {
  const firstSeq = o.firstSeq ?? 1;
  const startMs = o.startMs ?? Date.parse('2026-11-26T05:30:00Z');
  const tripId = o.tripId ?? `T${startMs.toString(36)}-a1b2c3`;
  const riders = Array.from({ length: o.riders ?? 5 }, (_, i) => `W${String(20_000 + i * 37).padStart(6, '0')}`);
  const out: WireEvent[] = [];
  let t = startMs;
  let mono = 120_000_000;
  let lat = 10.823099;
  let lon = 106.629664;
  const push = (e: Partial<WireEvent> & Pick<WireEvent, 'direction' | 'decision' | 'reasons' | 'source'>) => {
    t += 4_000 + (out.length % 5) * 1_300;
    mono += (t - (out.at(-1)?.wallMs ?? t)) * 1000 + 123;
    lat = Math.round((lat + 0.000731) * 1e6) / 1e6;
    lon = Math.round((lon - 0.000417) * 1e6) / 1e6;
    out.push({
      seq: firstSeq + out.length,
      wallMs: t,
      monoUs: mono,
      bootId: '7d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6',
      clockSynced: true,
      checkpointId: 'bus-51b',
      zoneId: 'shuttle',
      credentialKind: 'pass',
      workerId: null,
      codeHash: null,
      policyVersion: 4,
      tripId,
      ...(o.routeId !== undefined ? { routeId: o.routeId } : {}),
      position: { lat, lon },
      ...(o.gpsClock ? { clockSource: 'gps' as const } : {}),
      ...e,
    });
  };
  const trip = (reason: DenyReason, direction: WireEvent['direction'], workerId: string) =>
    push({ direction, decision: 'allow', reasons: [reason], source: 'trip', workerId });
  trip('TRIP_STARTED', 'entry', 'D000007');
  for (const [i, w] of riders.entries()) {
    push({ direction: 'entry', decision: 'allow', reasons: [], source: 'serial', workerId: w, ...(i === 1 ? { position: null } : {}) });
  }
  push({ direction: 'entry', decision: 'deny', reasons: ['BUS_FULL'], source: 'serial', workerId: 'W099999' });
  push({ direction: 'entry', decision: 'deny', reasons: ['MALFORMED_CODE'], source: 'evdev', credentialKind: 'unknown', codeHash: 'c0ffee00c0ffee00c0ffee00c0ffee00' });
  const scanOut = riders.slice(0, Math.ceil(riders.length / 2));
  for (const w of scanOut) push({ direction: 'exit', decision: 'allow', reasons: [], source: 'serial', workerId: w });
  for (const w of riders.slice(scanOut.length)) trip('ALIGHTED_AT_TRIP_END', 'exit', w);
  push({ direction: 'exit', decision: 'allow', reasons: ['TRIP_ENDED'], source: 'trip', credentialKind: 'unknown', codeHash: '5e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b' });
  return out;
}
