import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { silentLogger } from '../../../base/node/logger.js';
import type { Transition } from '../../../device/gpio/output.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { healthyWorker, hubKeys, passFor, tempDir, writeKioskConfig } from '../../helpers/fixtures.js';

/** Longer than any pattern: see-driver blinks 6 × 250 ms, the long beep is 1 s. */
const PATTERN_SETTLE_MS = 2_500;

/**
 * A headless bus unit (a whole kiosk in this process, simulated GPIO, a real SQLite file): what the
 * lights and buzzer show for a rider who boards, one refused because the bus is full (see the driver),
 * and a pass of someone not on the roster (refused), recorded from the outputs as the wiring would see them.
 */
describe('headless bus unit: lights and buzzer per outcome', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('boarding, a full bus and an unknown worker give three patterns a rider can tell apart; the gate opens only for the boarding', async () => {
    const dir = tempDir('safegate-bus-signals-');
    cleanups.push(() => dir.remove());
    const keys = hubKeys(dir.path);
    const file = writeKioskConfig(dir.path, { scannerSource: 'none', pulseMs: 100, checkpointKind: 'bus', direction: 'both' });
    const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    doc.bus = { plate: '51B-123.45', capacity: 1 };
    writeFileSync(file, stringify(doc));
    const transitions: Transition[] = [];
    const kiosk = new Kiosk(loadSettings(file), { headless: true, log: silentLogger, onTransition: (t) => transitions.push(t) });
    cleanups.push(() => kiosk.stop());
    kiosk.roster.upsertAll([healthyWorker('W1'), healthyWorker('W2')]);
    kiosk.start();

    /** Scans, lets the pattern play out, and returns what the outputs did. */
    const shown = async (text: string) => {
      transitions.length = 0;
      const passage = kiosk.gatekeeper.handleScan({ text, source: 'serial', receivedAtNs: process.hrtime.bigint() });
      await sleep(PATTERN_SETTLE_MS);
      const ons = (output: string) => transitions.filter((t) => t.output === output && t.active);
      const lightsOn = transitions.filter((t) => t.active && (t.output === 'greenLight' || t.output === 'redLight')).map((t) => t.output.replace('Light', ''));
      const buzzes = ons('buzzer').map((on) => {
        const off = transitions.find((t) => t.output === 'buzzer' && !t.active && t.atNs > on.atNs);
        return off ? Number(off.atNs - on.atNs) / 1e6 : Infinity;
      });
      const allOff = transitions.length > 0 && ['relay', 'greenLight', 'redLight', 'buzzer'].every((o) => !(transitions.filter((t) => t.output === o).at(-1)?.active ?? false));
      return { passage, relayOpened: ons('relay').length, lightsOn, buzzes, allOff };
    };

    const boarding = await shown(passFor(keys, 'W1'));
    expect(boarding.passage.decision).toMatchObject({ outcome: 'allow' });
    expect(boarding.relayOpened).toBe(1);
    expect(boarding.lightsOn).toEqual(['green']);
    expect(boarding.buzzes).toHaveLength(1);
    expect(boarding.buzzes[0]).toBeLessThan(500);

    const full = await shown(passFor(keys, 'W2'));
    expect(full.passage.decision).toMatchObject({ outcome: 'deny', reasons: ['BUS_FULL'] });
    expect(full.relayOpened).toBe(0);
    expect(full.lightsOn).toEqual(['red', 'green', 'red', 'green', 'red', 'green']);
    expect(full.buzzes).toHaveLength(1);
    // One long beep (1 s; timers only ever run late, so at least that).
    expect(full.buzzes[0]).toBeGreaterThanOrEqual(950);
    expect(full.allOff).toBe(true);

    // A valid pass of someone not on the roster: a credential refusal, nothing the driver can act on.
    const refused = await shown(passFor(keys, 'W9'));
    expect(refused.passage.decision).toMatchObject({ outcome: 'deny', reasons: ['UNKNOWN_WORKER'] });
    expect(refused.relayOpened).toBe(0);
    expect(refused.lightsOn).toEqual(['red']);
    expect(refused.buzzes).toHaveLength(3);
    for (const b of refused.buzzes) expect(b).toBeLessThan(500);
  }, 60_000);
});
