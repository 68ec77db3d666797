import { describe, expect, it } from 'vitest';
import { alertSchema } from '../../sync/protocol.js';
import { decodeBatch, encodeBatch, type WireEvent } from '../../sync/batch-codec.js';
import { typicalEvents } from '../helpers/events.js';

/** Events of the gate's own inputs (emergency release, passage outcomes) on their way to the hub. */
describe('gate input events in uplink batches and alerts', () => {
  it('carries the source `input` and the input reasons in format 2, beside scans', () => {
    const scans = typicalEvents(6);
    const events: WireEvent[] = [
      ...scans.slice(0, 3),
      { ...scans[3]!, source: 'input', decision: 'allow', reasons: ['PASSED'] },
      { ...scans[4]!, source: 'input', decision: 'deny', reasons: ['ADMITTED_NOT_PASSED'] },
      { ...scans[5]!, source: 'input', credentialKind: 'unknown', workerId: null, codeHash: 'ab'.repeat(16), decision: 'allow', reasons: ['EMERGENCY_OPEN'] },
    ];
    const batch = { deviceId: 'kiosk-1', batchId: `${events[0]!.seq}-${events.at(-1)!.seq}`, events, anchor: null };
    const decoded = decodeBatch(encodeBatch(batch));
    expect(decoded.events).toEqual(events);
  });

  it('an alert about the gate names no worker; an alert about a person must name one', () => {
    const base = { v: 1, seq: 7, atMs: 1_700_000_000_000, checkpointId: 'gate-a', reasons: ['EMERGENCY_OPEN'] };
    expect(alertSchema.safeParse({ ...base, kind: 'emergency-open' }).success).toBe(true);
    expect(alertSchema.safeParse({ ...base, kind: 'emergency-cleared' }).success).toBe(true);
    expect(alertSchema.safeParse({ ...base, kind: 'emergency-open', workerId: 'W1' }).success).toBe(false);
    expect(alertSchema.safeParse({ ...base, kind: 'quarantined-entry-attempt' }).success).toBe(false);
    expect(alertSchema.safeParse({ ...base, kind: 'quarantined-entry-attempt', workerId: 'W1' }).success).toBe(true);
  });
});
