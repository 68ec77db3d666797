import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import { EnrolMeScreens, ScreenSwitch } from '../../../src-main/api/enrol-me-screens.js';
import { METHODS, type EnrolmentView, type PassageView } from '../../../src-main/api/contract.js';
import { parseSettings } from '../../../src-main/core/config.js';

const log = createLogger({ level: 'silent' });
const settings = parseSettings({ device: { id: 'not-enrolled' }, checkpoint: { id: 'not-enrolled', name: 'x', kind: 'gate' }, scanner: { source: 'none' } });

function enrolMe(): { screens: EnrolMeScreens; submitted: string[] } {
  const submitted: string[] = [];
  const view: EnrolmentView = { state: 'failed', reason: 'TOKEN_EXPIRED', deviceId: 'gate-a-0001', sinceMs: 1 };
  return { screens: new EnrolMeScreens({ settings, view: () => view, submitCode: (t) => void submitted.push(t) }, log), submitted };
}

/** The renderer API while the kiosk is not enrolled, and the switch that keeps one screen server across compositions. */
describe('the "enrol me" side of the renderer API', () => {
  it('answers the state with the enrolment view only, hands codes over, and refuses every supervisor call; never throws', async () => {
    const { screens, submitted } = enrolMe();
    const state = await screens.dispatch('screen.state', {});
    expect(state).toMatchObject({ ok: true, result: { enrolment: { state: 'failed', reason: 'TOKEN_EXPIRED', deviceId: 'gate-a-0001' }, deviceId: '', supervisorsConfigured: false } });
    expect(await screens.dispatch('scan.submit', { text: 'SGE1:https://h#d=a&t=b&ca=c', source: 'camera' })).toMatchObject({ ok: false, error: { code: 'refused' } });
    expect(submitted).toEqual(['SGE1:https://h#d=a&t=b&ca=c']);
    expect(await screens.dispatch('supervisor.accounts', {})).toEqual({ ok: true, result: { accounts: [] } });
    expect(await screens.dispatch('supervisor.login', { supervisorId: 'lan', pin: '123456' })).toEqual({ ok: true, result: { ok: false, reason: 'no-supervisors' } });
    for (const method of METHODS.filter((m) => m.startsWith('supervisor.') && m !== 'supervisor.accounts' && m !== 'supervisor.login')) {
      const reply = await screens.dispatch(method, { token: 'x'.repeat(20) });
      expect(reply.ok, method).toBe(false);
      expect(['not-signed-in', 'bad-request'], method).toContain((reply as { error: { code: string } }).error.code);
    }
    for (const [method, params] of [
      [42, {}],
      ['nope', {}],
      ['scan.submit', { text: '' }],
      ['scan.submit', null],
      ['screen.state', { extra: 1 }],
    ] as [unknown, unknown][]) {
      const reply = await screens.dispatch(method, params);
      expect(reply.ok).toBe(false);
    }
    expect(submitted).toHaveLength(1);
  });

  it('the switch sends calls to the current side, forwards only its pushed passages, and says "restarting" between two', async () => {
    const switcher = new ScreenSwitch();
    const seen: PassageView[] = [];
    switcher.on('passage', (p) => seen.push(p));
    expect(await switcher.dispatch('screen.state', {})).toEqual({ ok: false, error: { code: 'internal', message: 'the kiosk is restarting' } });
    const a = enrolMe().screens;
    const b = enrolMe().screens;
    switcher.use(a);
    expect(await switcher.dispatch('screen.state', {})).toMatchObject({ ok: true });
    const p = { seq: 1, outcome: 'allow', direction: 'entry', displayName: null, kind: 'allow', reasons: [], guidance: null, atMs: 1 } satisfies PassageView;
    a.emit('passage', p);
    switcher.use(b);
    a.emit('passage', { ...p, seq: 2 });
    b.emit('passage', { ...p, seq: 3 });
    switcher.use(undefined);
    b.emit('passage', { ...p, seq: 4 });
    expect(seen.map((s) => s.seq)).toEqual([1, 3]);
  });
});
