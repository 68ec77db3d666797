import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { hubKeys, tempDir, writeKioskConfig } from '../../helpers/fixtures.js';

/**
 * An enrolled kiosk ignores enrolment codes however they arrive: a keyboard wedge or scanner that
 * puts a space or a BOM before the text does not turn the code into an ordinary malformed scan.
 */
describe('an enrolled kiosk ignores an enrolment code with leading spaces or a BOM', () => {
  const dirs: { remove(): void }[] = [];
  const kiosks: Kiosk[] = [];
  afterEach(async () => {
    for (const k of kiosks.splice(0)) await k.stop();
    for (const d of dirs.splice(0)) d.remove();
  });
  const code = `SGE1:https://127.0.0.1:1#d=test-kiosk-01&t=${'A'.repeat(43)}&ca=${'ab'.repeat(32)}`;

  it('from the scanner and from the screens: "already enrolled", no event stored', async () => {
    const dir = tempDir('safegate-ignore-code-');
    dirs.push(dir);
    hubKeys(dir.path);
    const stdin = new PassThrough();
    const kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path, { scannerSource: 'stdin' })), { headless: true, stdin, log: createLogger({ level: 'silent' }) });
    kiosks.push(kiosk);
    kiosk.start();
    const enrolment = async () => {
      const reply = await kiosk.screenService.dispatch('screen.state', {});
      return reply.ok ? (reply.result as { enrolment: { state: string } | null }).enrolment : null;
    };
    stdin.write(`  ${code}\n`);
    // The scanner's line arrives asynchronously: look until the screens say so (or the wait ends).
    let state: string | undefined;
    for (let i = 0; i < 100 && state !== 'already-enrolled'; i++) {
      state = (await enrolment())?.state;
      if (state !== 'already-enrolled') await new Promise((r) => setTimeout(r, 50));
    }
    expect(state).toBe('already-enrolled');
    expect(kiosk.events.outboxDepth().count).toBe(0);
    const reply = await kiosk.screenService.dispatch('scan.submit', { text: `  ${code}`, source: 'camera' });
    expect(reply).toMatchObject({ ok: false, error: { code: 'refused' } });
    expect(kiosk.events.outboxDepth().count).toBe(0);
  });
});
