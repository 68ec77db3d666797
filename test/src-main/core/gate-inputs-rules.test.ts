import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import type { GateEvent, NewGateEvent } from '../../../base/common/types.js';
import { GateSignals } from '../../../device/gpio/gate-signals.js';
import { SimulatedInput } from '../../../device/gpio/simulated-input.js';
import { SimulatedOutput } from '../../../device/gpio/simulated-output.js';
import { EmergencyRelease, PassageConfirmation } from '../../../src-main/core/gate-inputs.js';
import type { Passage } from '../../../src-main/core/gatekeeper.js';

const checkpoint = { id: 'gate-a', name: 'Cổng A', kind: 'gate', zone: 'factory-1', direction: 'entry' as const };
const clock = { read: () => ({ wallMs: Date.now(), monoUs: Date.now() * 1000, bootId: 'boot-1', synced: true }) };
const log = pino({ level: 'silent' });

function signals() {
  const line = (name: string) => ({ output: new SimulatedOutput(name, false), timing: { pulseMs: 100, maxOnMs: 1000 } });
  const lines = { relay: line('relay'), greenLight: line('green'), redLight: line('red'), buzzer: line('buzzer') };
  return { gate: new GateSignals(lines), relay: lines.relay.output };
}

function admitEvent(seq: number, workerId: string): GateEvent {
  return {
    seq, wallMs: Date.now(), monoUs: 0, bootId: 'boot-1', clockSynced: true, checkpointId: 'gate-a', zoneId: 'factory-1', direction: 'entry',
    credentialKind: 'pass', workerId, codeHash: null, decision: 'allow', reasons: [], source: 'serial', policyVersion: 3, syncedAt: null,
  };
}

function admitted(seq: number): Passage {
  return {
    seq, decision: { outcome: 'allow', direction: 'entry', reasons: [] }, displayName: null, credentialAccepted: true, durable: true,
    timing: { receivedAtNs: 0n, committedAtNs: 0n, actuatedAtNs: 0n },
  };
}

describe('gate input rules', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('an emergency release already active at start holds the gate at once; the gate opens even when the log cannot be written', () => {
    const { gate, relay } = signals();
    const input = new SimulatedInput('emergency', false, 0);
    input.setActive(true);
    const release = new EmergencyRelease({ checkpoint, clock, log, input, actuator: gate, policyVersion: () => 3, codeHashKey: 'k', record: () => { throw new Error('disk on fire'); } });
    const modes: string[] = [];
    release.on('mode', (m) => modes.push(m));
    release.start();
    expect(relay.isActive()).toBe(true);
    expect(release.mode).toBe('emergency-open');
    input.setActive(false);
    expect(relay.isActive()).toBe(false);
    expect(modes).toEqual(['emergency-open', 'normal']);
    release.stop();
  });

  it('the emergency events name the input by a keyed hash, never a person', () => {
    const { gate } = signals();
    const input = new SimulatedInput('emergency', true, 0);
    const logged: [NewGateEvent, string | undefined][] = [];
    const release = new EmergencyRelease({ checkpoint, clock, log, input, actuator: gate, policyVersion: () => 3, codeHashKey: 'k', record: (e, a) => (logged.push([e, a]), logged.length) });
    release.start();
    input.setActive(true);
    input.setActive(true);
    input.setActive(false);
    expect(logged.map(([e, a]) => [e.reasons, e.decision, a, e.workerId, e.source, e.policyVersion])).toEqual([
      [['EMERGENCY_OPEN'], 'allow', 'emergency-open', null, 'input', 3],
      [['EMERGENCY_CLEARED'], 'deny', 'emergency-cleared', null, 'input', 3],
    ]);
    expect(logged[0]![0].codeHash).toBe(logged[1]![0].codeHash);
    expect(logged[0]![0].codeHash).toMatch(/^[0-9a-f]{32}$/);
  });

  it('the passage sensor confirms admits oldest first; an admit left over is not passed; a passage with nobody waiting is only counted', () => {
    const input = new SimulatedInput('passage', true, 0);
    const events = new Map([1, 2, 3].map((s) => [s, admitEvent(s, `W${s}`)]));
    const logged: NewGateEvent[] = [];
    const sensor = new PassageConfirmation({ checkpoint, clock, log, input, windowMs: 500, eventBySeq: (s) => events.get(s), record: (e) => (logged.push(e), logged.length) });
    sensor.start();
    input.setActive(true);
    input.setActive(false);
    expect(sensor.unmatchedPassages).toBe(1);
    expect(logged).toEqual([]);

    sensor.onPassage(admitted(1));
    sensor.onPassage(admitted(2));
    sensor.onPassage({ ...admitted(3), decision: { outcome: 'deny', direction: 'entry', reasons: ['ANTI_PASSBACK'] } });
    input.setActive(true);
    input.setActive(false);
    vi.advanceTimersByTime(499);
    expect(logged.map((e) => [e.workerId, e.reasons])).toEqual([['W1', ['PASSED']]]);
    vi.advanceTimersByTime(1);
    expect(logged.map((e) => [e.workerId, e.reasons, e.decision])).toEqual([
      ['W1', ['PASSED'], 'allow'],
      ['W2', ['ADMITTED_NOT_PASSED'], 'deny'],
    ]);
    expect(sensor.waitingCount).toBe(0);
    sensor.stop();
  });
});
