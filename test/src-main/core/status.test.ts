import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatStatus, statusOf } from '../../../src-main/cli/commands.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { KioskUnderTest } from '../../helpers/kiosk.js';
import { TestBroker, TestCertificates } from '../../helpers/mosquitto.js';

const DEVICE = 'test-kiosk-01';

/**
 * `safegate status` and the screens say the same about the hub link, at the same moment: the
 * status is read the way the command reads it (statusOf: the database and the running kiosk's
 * runtime file), the screens' word is ScreenState.link. A real Mosquitto is started and stopped.
 */
describe('hub link: safegate status agrees with the screens', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('online, then offline when the broker goes away; unknown once the kiosk stops', async () => {
    const pki = tempDir('safegate-status-pki-');
    cleanups.push(() => pki.remove());
    const certs = new TestCertificates(join(pki.path, 'pki'));
    certs.issue(DEVICE);
    const broker = new TestBroker(pki.path, certs);
    await broker.start();
    cleanups.push(() => broker.stop());
    const k = new KioskUnderTest();
    await k.start({
      hub: { broker: { url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${DEVICE}.crt`), key: join(certs.dir, `${DEVICE}.key`) } },
    });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await k.stop();
    });
    const config = join(k.dir.path, 'kiosk.yaml');
    const screens = () => k.kiosk.screenService.state().link;

    // The moment the screens say online, so does the command.
    await waitFor(() => (screens() === 'online' ? true : undefined), 'the screens show the link online', 15_000);
    expect(statusOf(config).link).toBe('online');
    expect(statusOf(config).running?.link).toBe('online');
    expect(formatStatus(statusOf(config))).toMatch(/^hub link: online$/m);

    // The broker goes: the screens stop saying online, and the command says what they say (the
    // link may move on between two reads, from offline to connecting, so either word of the two).
    await broker.stop();
    await waitFor(() => (screens() !== 'online' ? true : undefined), 'the screens show the link down', 15_000);
    for (let i = 0; i < 5; i++) {
      const before = screens();
      const status = statusOf(config).link;
      const after = screens();
      expect([before, after]).toContain(status);
      expect(status).not.toBe('online');
    }

    // No kiosk running: nobody holds a link, and the command does not guess.
    await k.kiosk.stop();
    stopped = true;
    await k.pty.unplug();
    const s = statusOf(config);
    expect(s.running).toBeNull();
    expect(s.link).toBeNull();
    expect(formatStatus(s)).toMatch(/^kiosk not running\nhub link: unknown \(no kiosk running\)$/m);
    k.dir.remove();
  }, 60_000);

  it('a kiosk without a hub: standalone on the screens and in status, running or not', async () => {
    const k = new KioskUnderTest();
    await k.start();
    cleanups.push(() => k.stop());
    const config = join(k.dir.path, 'kiosk.yaml');
    expect(k.kiosk.screenService.state().link).toBe('standalone');
    expect(statusOf(config).link).toBe('standalone');
    expect(statusOf(config).running?.link).toBe('standalone');
    expect(formatStatus(statusOf(config))).toMatch(/^hub link: standalone \(no hub in the settings\)$/m);
  });
});
