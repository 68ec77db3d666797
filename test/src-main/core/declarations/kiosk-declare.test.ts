import { afterEach, describe, expect, it } from 'vitest';
import { DECLARATION_QUESTIONS, type DeclarationAnswerSet } from '../../../../base/common/declaration.js';
import { createLogger } from '../../../../base/node/logger.js';
import { Kiosk } from '../../../../src-main/app/kiosk.js';
import { KioskRunLoop } from '../../../../src-main/app/run-loop.js';
import type { Transition } from '../../../../device/gpio/output.js';
import { loadSettings } from '../../../../src-main/core/config.js';
import { KioskUnderTest } from '../../../helpers/kiosk.js';
import { healthyWorker, hubKeys, passFor, tempDir, writeKioskConfig } from '../../../helpers/fixtures.js';

const answers = (yes: (typeof DECLARATION_QUESTIONS)[number][] = []): DeclarationAnswerSet =>
  Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, yes.includes(q)])) as DeclarationAnswerSet;

/**
 * The composed kiosk (src-main/app/kiosk.ts) on a real store file: a kiosk with a screen takes a
 * declaration through the screen API and decides again; a unit without one shows "declare elsewhere".
 */
describe('declarations on the composed kiosk', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function kioskWithScreen(): { kiosk: Kiosk; keys: ReturnType<typeof hubKeys> } {
    const dir = tempDir('safegate-kiosk-declare-');
    const keys = hubKeys(dir.path);
    const kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: false, log: createLogger({ level: 'silent' }) });
    kiosk.start();
    cleanups.push(() => dir.remove(), () => kiosk.stop());
    kiosk.roster.upsertAll([healthyWorker('W1', Date.now(), { declaredAt: null }), healthyWorker('W2', Date.now(), { declaredAt: null })]);
    return { kiosk, keys };
  }

  it('over the screen API: refused for a missing declaration, declares, admitted; a flagged one refuses with an alert', async () => {
    const { kiosk, keys } = kioskWithScreen();
    const api = kiosk.screenService;
    const state = await api.dispatch('screen.state', {});
    expect(state).toMatchObject({ ok: true, result: { declarations: true } });

    const refused = await api.dispatch('scan.submit', { text: passFor(keys, 'W1'), source: 'camera' });
    if (!refused.ok) throw new Error(refused.error.message);
    const first = refused.result as { outcome: string; declareToken?: string; seq: number };
    expect(first.outcome).toBe('deny');
    expect(first.declareToken).toBeDefined();
    const admitted = await api.dispatch('declaration.submit', { token: first.declareToken!, answers: answers() });
    expect(admitted).toMatchObject({ ok: true, result: { outcome: 'allow', displayName: 'Người lao động W1' } });
    // Used once: the same token again is refused, with nothing recorded.
    expect(await api.dispatch('declaration.submit', { token: first.declareToken!, answers: answers() })).toMatchObject({ ok: false, error: { code: 'refused' } });
    // Each question must be answered: a missing one is refused at the door.
    const { fever: _fever, ...partial } = answers();
    expect(await api.dispatch('declaration.submit', { token: first.declareToken!, answers: partial })).toMatchObject({ ok: false, error: { code: 'bad-request' } });

    const other = await api.dispatch('scan.submit', { text: passFor(keys, 'W2'), source: 'camera' });
    if (!other.ok) throw new Error(other.error.message);
    const flagged = await api.dispatch('declaration.submit', { token: (other.result as { declareToken: string }).declareToken, answers: answers(['fever']) });
    expect(flagged).toMatchObject({ ok: true, result: { outcome: 'deny' } });

    const events = [...kiosk.events.since(0)];
    expect(events.map((e) => [e.source, e.workerId, e.decision, e.reasons.join()])).toEqual([
      ['camera', 'W1', 'deny', 'DECLARATION_MISSING'],
      ['declaration', 'W1', 'allow', ''],
      ['camera', 'W1', 'allow', ''],
      ['camera', 'W2', 'deny', 'DECLARATION_MISSING'],
      ['declaration', 'W2', 'deny', 'DECLARATION_FLAGGED'],
      ['camera', 'W2', 'deny', 'DECLARATION_FLAGGED'],
    ]);
    expect(kiosk.events.unsentAlerts(10).map((a) => [a.kind, a.event.seq])).toEqual([['flagged-entry-attempt', events[5]!.seq]]);
    expect(kiosk.roster.get('W1')).toMatchObject({ declaredAt: events[1]!.wallMs, declarationFlagged: false });
    expect(kiosk.roster.get('W2')).toMatchObject({ declaredAt: events[4]!.wallMs, declarationFlagged: true });
  }, 60_000);

  /** Whether red and green were ever on at the same moment ("declare at a kiosk with a screen"; no other result does that). */
  function bothLightsOn(transitions: readonly Transition[]): boolean {
    const on = new Set<string>();
    let together = false;
    for (const t of transitions) {
      if (t.active) on.add(t.output);
      else on.delete(t.output);
      together ||= on.has('redLight') && on.has('greenLight');
    }
    return together;
  }

  it('a run that shows no screen (safegate run --screens none) on settings that say auto takes no declaration and signals "declare elsewhere"; the same settings shown take them', async () => {
    const dir = tempDir('safegate-kiosk-declare-run-');
    cleanups.push(() => dir.remove());
    const keys = hubKeys(dir.path);
    const file = writeKioskConfig(dir.path, { screens: { show: 'auto', port: 0 } });
    for (const [screens, expected] of [
      ['none', { declarations: false, token: false, elsewhere: true }],
      ['address', { declarations: true, token: true, elsewhere: false }],
    ] as const) {
      const transitions: Transition[] = [];
      const loop = new KioskRunLoop(file, { headless: false, screens, log: createLogger({ level: 'silent' }), onTransition: (t) => transitions.push(t) });
      const kiosk = (await loop.start()) as Kiosk;
      try {
        kiosk.roster.upsertAll([healthyWorker('W1', Date.now(), { declaredAt: null })]);
        expect(await kiosk.screenService.dispatch('screen.state', {})).toMatchObject({ ok: true, result: { declarations: expected.declarations } });
        const scanned = await kiosk.screenService.dispatch('scan.submit', { text: passFor(keys, 'W1'), source: 'camera' });
        if (!scanned.ok) throw new Error(scanned.error.message);
        const p = scanned.result as { outcome: string; declareToken?: string };
        expect({ screens, outcome: p.outcome, token: p.declareToken !== undefined, elsewhere: bothLightsOn(transitions) }).toEqual({
          screens,
          outcome: 'deny',
          token: expected.token,
          elsewhere: expected.elsewhere,
        });
      } finally {
        loop.stop('test over');
        await loop.done();
      }
    }
  }, 60_000);

  it('a unit without a screen takes no declaration and shows "declare at a kiosk with a screen": red and green on together', async () => {
    const k = new KioskUnderTest();
    cleanups.push(() => k.stop());
    await k.start();
    k.kiosk.roster.upsertAll([healthyWorker('W1', Date.now(), { declaredAt: null })]);
    expect(await k.kiosk.screenService.dispatch('screen.state', {})).toMatchObject({ ok: true, result: { declarations: false } });
    const p = await k.scan(passFor(k.keys, 'W1'));
    expect(p.decision.reasons).toEqual(['DECLARATION_MISSING']);
    expect(p.declareToken).toBeUndefined();
    // Both lights on at the same moment: no other result does that (see declare-elsewhere-signal.test.ts).
    const on = new Set<string>();
    let together = false;
    for (const t of k.transitions) {
      if (t.active) on.add(t.output);
      else on.delete(t.output);
      together ||= on.has('redLight') && on.has('greenLight');
    }
    expect(together).toBe(true);
    expect(k.relayOpenings()).toBe(0);
    expect(await k.kiosk.screenService.dispatch('declaration.submit', { token: 'A'.repeat(24), answers: answers() })).toMatchObject({
      ok: false,
      error: { code: 'refused' },
    });
  }, 60_000);
});
