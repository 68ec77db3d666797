import type { WireEvent } from '../../sync/batch-codec.js';

/**
 * Typical factory-gate traffic: one boot, one checkpoint, people a few seconds apart, mostly allowed,
 * workers drawn from a 100,000-person roster in no particular order.
 */
export function typicalEvents(n: number, firstSeq = 1, startMs = Date.parse('2026-11-26T06:00:00Z')): WireEvent[] {
  let wall = startMs;
  let mono = 3_600_000_000;
  return Array.from({ length: n }, (_, i) => {
    const step = 1000 + ((i * 7919) % 6000);
    wall += step;
    mono += step * 1000 + ((i * 31) % 900);
    const denied = i % 17 === 0;
    const unknown = i % 97 === 0;
    return {
      seq: firstSeq + i,
      wallMs: wall,
      monoUs: mono,
      bootId: '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c11',
      clockSynced: true,
      checkpointId: 'gate-a',
      zoneId: 'factory-1',
      direction: i % 3 === 0 ? 'exit' : 'entry',
      credentialKind: unknown ? 'unknown' : 'pass',
      workerId: unknown ? null : `W${String((i * 48_271 + 12_345) % 100_000).padStart(6, '0')}`,
      codeHash: unknown ? 'a3f9c0d1e2b4a5968778695a4b3c2d1e' : null,
      decision: denied || unknown ? 'deny' : 'allow',
      reasons: unknown ? ['MALFORMED_CODE'] : denied ? ['DECLARATION_MISSING', 'VACCINATION_INSUFFICIENT'] : [],
      source: 'serial',
      policyVersion: 3,
    } satisfies WireEvent;
  });
}

