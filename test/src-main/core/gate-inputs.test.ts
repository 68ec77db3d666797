import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createLogger } from '../../../base/node/logger.js';
import type { Transition } from '../../../device/gpio/output.js';
import { setInputControl } from '../../../device/gpio/input-control.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { inputControlFile } from '../../../src-main/core/gate-inputs.js';
import { runtimeFiles } from '../../../src-main/core/runtime.js';
import { EntryLogReader } from '../../../src-main/core/supervisor/entry-log.js';
import { healthyWorker, hubKeys, passFor, tempDir, waitFor, writeKioskConfig } from '../../helpers/fixtures.js';

const PULSE_MS = 100;
const GRACE_MS = 300;

/**
 * The gate's inputs in a whole kiosk (this process, simulated GPIO, a real SQLite file), driven the
 * way the demo and `safegate gpio set` drive them: through the input control file the kiosk watches.
 */
describe('gate inputs: emergency release and passage sensor', () => {
  const dirs: { remove(): void }[] = [];
  const kiosks: Kiosk[] = [];
  afterEach(async () => {
    for (const k of kiosks.splice(0)) await k.stop();
    dirs.splice(0).forEach((d) => d.remove());
  });

  function startKiosk(inputs: Record<string, unknown>) {
    const dir = tempDir('safegate-inputs-');
    dirs.push(dir);
    const keys = hubKeys(dir.path);
    const file = writeKioskConfig(dir.path, { scannerSource: 'none', pulseMs: PULSE_MS });
    const doc = parse(readFileSync(file, 'utf8')) as { gate: Record<string, unknown> };
    doc.gate.inputs = { debounceMs: 10, ...inputs };
    writeFileSync(file, stringify(doc));
    const settings = loadSettings(file);
    const transitions: Transition[] = [];
    const logs: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'debug', destination: { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) } });
    const kiosk = new Kiosk(settings, { headless: true, log, onTransition: (t) => transitions.push(t) });
    kiosks.push(kiosk);
    kiosk.roster.upsertAll([healthyWorker('W1'), healthyWorker('W2'), healthyWorker('W3')]);
    kiosk.start();
    const control = inputControlFile(runtimeFiles(settings.paths.store));
    const scan = (workerId: string) => kiosk.gatekeeper.handleScan({ text: passFor(keys, workerId), source: 'serial', receivedAtNs: process.hrtime.bigint() });
    const relay = () => transitions.filter((t) => t.output === 'relay').at(-1)?.active ?? false;
    const events = () => [...kiosk.events.since(0)];
    return { kiosk, control, scan, relay, events, transitions, logs };
  }

  it('emergency active: relay held, screens say emergency-open, scans still decided and logged, alert raised; cleared: back to normal', async () => {
    const { kiosk, control, scan, relay, events, logs } = startKiosk({ emergency: { pin: 5, activeLow: true } });
    expect(kiosk.screenService.state().gate).toEqual({ mode: 'normal' });

    setInputControl(control, 'emergency', true);
    await waitFor(() => (kiosk.screenService.state().gate.mode === 'emergency-open' ? true : undefined), 'emergency-open on the screens', 5_000);
    expect(relay()).toBe(true);

    // A scan is decided and logged as usual; the relay stays held well past its pulse and maximum on-time.
    const admitted = scan('W1');
    const unknown = scan('NOT-ON-ROSTER');
    expect(admitted.decision.outcome).toBe('allow');
    expect(unknown.decision.outcome).toBe('deny');
    await new Promise((r) => setTimeout(r, PULSE_MS * 3));
    expect(relay()).toBe(true);

    setInputControl(control, 'emergency', false);
    await waitFor(() => (kiosk.screenService.state().gate.mode === 'normal' ? true : undefined), 'normal on the screens', 5_000);
    expect(relay()).toBe(false);

    const log = events();
    expect(log.map((e) => [e.source, e.decision, e.reasons])).toEqual([
      ['input', 'allow', ['EMERGENCY_OPEN']],
      ['serial', 'allow', []],
      ['serial', 'deny', ['UNKNOWN_WORKER']],
      ['input', 'deny', ['EMERGENCY_CLEARED']],
    ]);
    // The emergency events name no person and carry the alerts the hub receives.
    expect(log[0]).toMatchObject({ workerId: null, credentialKind: 'unknown', checkpointId: 'gate-a' });
    expect(log[0]!.codeHash).toMatch(/^[0-9a-f]{32}$/);
    expect(kiosk.events.unsentAlerts(10).map((a) => [a.kind, a.event.seq])).toEqual([
      ['emergency-open', log[0]!.seq],
      ['emergency-cleared', log[3]!.seq],
    ]);
    expect(logs.some((l) => l.msg === 'emergency release active: gate held open')).toBe(true);

    // After the emergency, an admit pulses the relay and lets go again.
    scan('W2');
    expect(relay()).toBe(true);
    await waitFor(() => (relay() ? undefined : true), 'the relay pulse ends', 5_000);
  });

  it('passage sensor: admitted and passed counts inside; admitted but not passed is logged and not counted', async () => {
    const { kiosk, control, scan, events } = startKiosk({ passage: { pin: 6, activeLow: true, graceMs: GRACE_MS } });
    const reader = new EntryLogReader(kiosk.events, kiosk.roster, { of: () => null, overridable: () => false });
    const inside = () => reader.inside(0, Date.now() + 60_000, { passedOnly: true }).map((w) => w.workerId);

    expect(scan('W1').decision.outcome).toBe('allow');
    setInputControl(control, 'passage', true);
    await waitFor(() => (events().some((e) => e.reasons.includes('PASSED')) ? true : undefined), 'W1 passed', 5_000);
    setInputControl(control, 'passage', false);

    expect(scan('W2').decision.outcome).toBe('allow');
    await waitFor(() => (events().some((e) => e.reasons.includes('ADMITTED_NOT_PASSED')) ? true : undefined), 'W2 not passed', 5_000);

    const outcomes = events().filter((e) => e.source === 'input');
    expect(outcomes.map((e) => [e.workerId, e.decision, e.reasons, e.direction])).toEqual([
      ['W1', 'allow', ['PASSED'], 'entry'],
      ['W2', 'deny', ['ADMITTED_NOT_PASSED'], 'entry'],
    ]);
    expect(inside()).toEqual(['W1']);
    // The supervisor's log shows both outcomes; the day's summary counts scans only.
    expect([...reader.rows({ fromMs: 0, toMs: Date.now() + 60_000 })].map((r) => r.reasons)).toContainEqual(['ADMITTED_NOT_PASSED']);
    expect(reader.summary(0, Date.now() + 60_000)).toEqual({ entries: 2, exits: 0, denied: 0 });
    // Without a sensor's view ("inside" as before), both admits count.
    expect(reader.inside(0, Date.now() + 60_000).map((w) => w.workerId).sort()).toEqual(['W1', 'W2']);
    // W2 turned back at the gate and tries again: still outside as far as the gate knows, so this
    // entry gate lets them in (no "already inside"); W1, who went through, is inside.
    expect(scan('W2').decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect(scan('W1').decision).toMatchObject({ outcome: 'deny', reasons: ['ANTI_PASSBACK'] });
  });
});
