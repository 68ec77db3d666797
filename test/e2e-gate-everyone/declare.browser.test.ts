import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARATION_QUESTIONS } from '../../base/common/declaration.js';
import { DENY_REASON_CODES, DENY_REASONS, isSensitive } from '../../base/common/reasons.js';
import type { GateEvent } from '../../base/common/types.js';
import { screenshotAt } from '../helpers/browser.js';
import { answerDeclaration, UI } from './screens.js';
import { GateSite, until, WORKERS, type SiteKiosk } from './site.js';

const [MAI, HUNG] = WORKERS;
/** Every health reason, as code and words: never on the public screen (discreet mode). */
const HEALTH_TEXTS = DENY_REASON_CODES.filter(isSensitive).flatMap((c) => [c, DENY_REASONS[c].vi, DENY_REASONS[c].en]);
const COUGH_BIT = 1 << DECLARATION_QUESTIONS.indexOf('cough');
/** How far the hub's time of a declaration may be from the kiosk's (hub-corrected dating on one machine). */
const DATING_SLACK_MS = 60_000;

interface HubDeclaration {
  worker_id: string;
  flagged: number;
  answers: string | null;
  made_ms: number;
}

/**
 * The first "done means" line, end to end on one site (test/e2e-gate-everyone/site.ts:
 * Mosquitto, `safegate hub run`, the factory gate with its screens in Chromium, the canteen): a
 * worker whose declaration is missing is refused at the gate, declares on the gate's screen and is
 * admitted; the declaration reaches the hub in the real batch upload and comes back down the live
 * site stream, so the canteen admits them without a declaration of its own. A second worker who
 * answers "yes" is refused DECLARATION_FLAGGED and an alert is raised.
 */
describe('a worker without a declaration declares at the kiosk (Chromium), the hub keeps it and the canteen kiosk of the site admits them', () => {
  const site = new GateSite();
  const startedAt = Date.now() - 1_000;

  beforeAll(async () => {
    await site.start();
  }, 180_000);

  afterAll(async () => {
    await site.stop();
  }, 60_000);

  const page = (): Page => site.page;
  const eventsOf = (k: SiteKiosk, workerId: string): GateEvent[] => site.events(k, startedAt).filter((e) => e.workerId === workerId);
  const hubDeclarations = (workerId: string) =>
    site.hubQuery<HubDeclaration>('directory', 'SELECT worker_id, flagged, answers, made_ms FROM declarations WHERE worker_id = ? ORDER BY made_ms', workerId);

  /** Scans at the gate and waits for the result screen. */
  async function scanAtGate(workerId: string): Promise<void> {
    await site.gate.pty.write(`${site.pass(workerId)}\r`);
    await page().getByTestId('result').waitFor({ timeout: 30_000 });
  }

  /** Scans at the canteen (no screen) and waits for its event. */
  async function scanAtCanteen(workerId: string): Promise<GateEvent> {
    const before = eventsOf(site.canteen, workerId).length;
    await site.canteen.pty.write(`${site.pass(workerId)}\r`);
    return until(() => eventsOf(site.canteen, workerId)[before], `the canteen's event for ${workerId}`, 30_000);
  }

  /** The result screen shows a new outcome (the form replaced the old result, the re-decision shows a new one). */
  async function resultAfterDeclaring(): Promise<{ outcome: string | null; kind: string | null }> {
    const result = page().getByTestId('result');
    await result.waitFor({ timeout: 30_000 });
    return { outcome: await result.getAttribute('data-outcome'), kind: await result.getAttribute('data-kind') };
  }

  it('without a declaration: refused DECLARATION_MISSING at the gate (a discreet health result) and at the canteen; both refusals reach the hub', async () => {
    const { page, gate, canteen } = site;
    await gate.pty.write(`${site.pass(MAI.id)}\r`);
    await page.getByTestId('result').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('deny');
    expect(await page.getByTestId('result').getAttribute('data-kind')).toBe('health');
    expect(await page.getByTestId('result-name').textContent()).toBe(MAI.name);
    await screenshotAt(page, { width: 800, height: 480 }, 'e2e-declare-missing');
    const atGate = await until(() => site.events(gate, startedAt).find((e) => e.workerId === MAI.id), 'the gate event of the refused worker');
    expect(atGate).toMatchObject({ decision: 'deny', reasons: ['DECLARATION_MISSING'], direction: 'entry' });

    const atCanteen = await scanAtCanteen(MAI.id);
    expect(atCanteen).toMatchObject({ decision: 'deny', reasons: ['DECLARATION_MISSING'] });

    const atHub = await until(
      () => {
        const rows = site.hubQuery<{ device_id: string; seq: number; reasons: string }>('store', 'SELECT device_id, seq, reasons FROM hub_events WHERE worker_id = ? ORDER BY device_id', MAI.id);
        return rows.length === 2 ? rows : undefined;
      },
      'both refusals at the hub',
      60_000,
    );
    expect(atHub).toEqual([
      { device_id: canteen.id, seq: atCanteen.seq, reasons: 'DECLARATION_MISSING' },
      { device_id: gate.id, seq: atGate.seq, reasons: 'DECLARATION_MISSING' },
    ]);
  }, 120_000);

  it('"Declare now" on the refusal, every answer no: admitted; the gate logged the declaration event, then the allow', async () => {
    const p = page();
    // The refusal of the test before is still on the screen (results stay 30 s), its token valid 3 minutes.
    await p.getByTestId(UI.declareNow).click();
    await screenshotAt(p, { width: 800, height: 480 }, 'e2e-declare-form');
    await answerDeclaration(p, []);
    expect(await resultAfterDeclaring()).toEqual({ outcome: 'allow', kind: 'allow' });
    expect(await p.getByTestId('result-name').textContent()).toBe(MAI.name);
    await screenshotAt(p, { width: 800, height: 480 }, 'e2e-declare-admitted');

    const events = await until(() => {
      const es = eventsOf(site.gate, MAI.id);
      return es.length >= 3 ? es : undefined;
    }, 'the declaration and the new decision at the gate', 30_000, () => eventsOf(site.gate, MAI.id));
    expect(events.map((e) => [e.source, e.decision, e.reasons])).toEqual([
      ['serial', 'deny', ['DECLARATION_MISSING']],
      ['declaration', 'allow', []],
      ['serial', 'allow', []],
    ]);
    const [, declared, admitted] = events as [GateEvent, GateEvent, GateEvent];
    expect(declared).toMatchObject({ declaration: { answers: 0 }, direction: 'entry', credentialKind: 'pass', codeHash: null });
    expect(admitted).toMatchObject({ direction: 'entry', credentialKind: 'pass' });
    expect(admitted.seq).toBeGreaterThan(declared.seq);
    expect(await p.getByTestId('result').getAttribute('data-seq')).toBe(String(admitted.seq));
    expect(site.gate.kiosk.roster.get(MAI.id)).toMatchObject({ declaredAt: declared.wallMs, declarationFlagged: false });
    await p.getByTestId('result').click();
    await p.getByTestId('result').waitFor({ state: 'detached' });
  }, 120_000);

  it('the declaration reaches the hub in the batch upload (declarations table, no answers kept for a clean one) and comes back down the site stream: the canteen admits the worker', async () => {
    const declared = eventsOf(site.gate, MAI.id).find((e) => e.source === 'declaration')!;
    const atHub = await until(() => {
      const rows = hubDeclarations(MAI.id);
      return rows.length ? rows : undefined;
    }, "the gate's declaration in the hub's declarations table", 60_000);
    expect(atHub).toHaveLength(1);
    expect(atHub[0]).toMatchObject({ worker_id: MAI.id, flagged: 0, answers: null });
    expect(Math.abs(atHub[0]!.made_ms - declared.wallMs)).toBeLessThanOrEqual(DATING_SLACK_MS);
    const event = site.hubQuery<{ source: string; declaration_bits: number | null }>('store', 'SELECT source, declaration_bits FROM hub_events WHERE device_id = ? AND seq = ?', site.gate.id, declared.seq);
    expect(event).toEqual([{ source: 'declaration', declaration_bits: 0 }]);

    // The canteen never saw a declaration of its own: its roster record has it from the site stream.
    const record = await until(() => {
      const r = site.canteen.kiosk.roster.get(MAI.id);
      return r?.declaredAt ? r : undefined;
    }, "the declaration in the canteen's roster (live site stream)", 60_000);
    expect(record).toMatchObject({ declarationFlagged: false });
    expect(Math.abs(record.declaredAt! - declared.wallMs)).toBeLessThanOrEqual(DATING_SLACK_MS);
    expect(eventsOf(site.canteen, MAI.id).filter((e) => e.source === 'declaration')).toEqual([]);
    expect(await scanAtCanteen(MAI.id)).toMatchObject({ decision: 'allow', reasons: [], direction: 'entry' });
  }, 120_000);

  it('a second worker answers "yes" (cough): refused DECLARATION_FLAGGED (discreetly) with an alert at the kiosk and at the hub, none on the declaration itself', async () => {
    const p = page();
    await scanAtGate(HUNG.id);
    expect(await p.getByTestId('result').getAttribute('data-kind')).toBe('health');
    await p.getByTestId(UI.declareNow).click();
    await answerDeclaration(p, ['cough']);
    // A health refusal: discreet on the public screen.
    expect(await resultAfterDeclaring()).toEqual({ outcome: 'deny', kind: 'health' });
    // No "Declare now" again: a flagged declaration stands for the rest of the day.
    expect(await p.getByTestId(UI.declareNow).count()).toBe(0);
    const shown = await p.locator('body').innerText();
    for (const t of HEALTH_TEXTS) expect(shown).not.toContain(t);
    await screenshotAt(p, { width: 800, height: 480 }, 'e2e-declare-flagged');

    const events = await until(() => {
      const es = eventsOf(site.gate, HUNG.id);
      return es.length >= 3 ? es : undefined;
    }, 'the flagged declaration and the new decision at the gate', 30_000, () => eventsOf(site.gate, HUNG.id));
    expect(events.map((e) => [e.source, e.decision, e.reasons])).toEqual([
      ['serial', 'deny', ['DECLARATION_MISSING']],
      ['declaration', 'deny', ['DECLARATION_FLAGGED']],
      ['serial', 'deny', ['DECLARATION_FLAGGED']],
    ]);
    const [, declared, refused] = events as [GateEvent, GateEvent, GateEvent];
    expect(declared.declaration).toEqual({ answers: COUGH_BIT });
    // The screen shows the new decision, not the refusal before the declaration.
    expect(await p.getByTestId('result').getAttribute('data-seq')).toBe(String(refused.seq));

    // The alert: one, on the re-decided scan (none on the declaration event itself), at the kiosk and at the hub.
    const db = new Database(site.gate.dbFile, { readonly: true, fileMustExist: true });
    try {
      expect(db.prepare('SELECT seq, kind FROM alerts WHERE seq >= ? ORDER BY seq').all(events[0]!.seq)).toEqual([{ seq: refused.seq, kind: 'flagged-entry-attempt' }]);
    } finally {
      db.close();
    }
    const hubAlert = await until(() => {
      const rows = site.hubQuery<{ seq: number; kind: string; worker_id: string }>('store', 'SELECT seq, kind, worker_id FROM hub_alerts WHERE device_id = ? AND worker_id = ?', site.gate.id, HUNG.id);
      return rows.length ? rows : undefined;
    }, 'the alert at the hub', 60_000);
    expect(hubAlert).toEqual([{ seq: refused.seq, kind: 'flagged-entry-attempt', worker_id: HUNG.id }]);
    // The answers are never in the kiosk's log.
    expect(site.gate.logLines.join('')).not.toMatch(/cough/i);
  }, 120_000);

  it('the flagged declaration reaches the hub with its answers (kept for the health officer) and the canteen, which refuses the worker too', async () => {
    const atHub = await until(() => {
      const rows = hubDeclarations(HUNG.id);
      return rows.length ? rows : undefined;
    }, "the flagged declaration in the hub's declarations table", 60_000);
    expect(atHub).toHaveLength(1);
    expect(atHub[0]!.flagged).toBe(1);
    expect(JSON.parse(atHub[0]!.answers!)).toMatchObject({ cough: true, fever: false, travel: false });
    // The answers are never in the hub's log.
    expect(site.hub.logs.map((l) => JSON.stringify(l)).join('\n')).not.toMatch(/cough|answers/i);

    await until(() => (site.canteen.kiosk.roster.get(HUNG.id)?.declarationFlagged ? true : undefined), "the flagged declaration in the canteen's roster", 60_000);
    const atCanteen = await scanAtCanteen(HUNG.id);
    expect(atCanteen).toMatchObject({ decision: 'deny' });
    expect(atCanteen.reasons).toContain('DECLARATION_FLAGGED');
  }, 120_000);
});
