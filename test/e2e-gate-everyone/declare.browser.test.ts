import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { screenshotAt } from '../helpers/browser.js';
import { GateSite, until, WORKERS } from './site.js';

const [MAI] = WORKERS;

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

    await canteen.pty.write(`${site.pass(MAI.id)}\r`);
    const atCanteen = await until(() => site.events(canteen, startedAt).find((e) => e.workerId === MAI.id), 'the canteen event of the refused worker');
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
});
