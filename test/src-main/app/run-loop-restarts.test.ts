import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import type { Transition } from '../../../device/gpio/output.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { KioskRunLoop } from '../../../src-main/app/run-loop.js';
import { runKiosk } from '../../../src-main/cli/commands.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { CertificateRenewer, enrolDevice, renewalDueAtMs } from '../../../src-main/core/enrolment/index.js';
import { runtimeFiles } from '../../../src-main/core/runtime.js';
import { hubKeys, tempDir, waitFor, writeKioskConfig } from '../../helpers/fixtures.js';
import { LocalEnrolHub } from '../core/enrolment/est-local-hub.js';

const DAY = 86_400_000;

/** Log lines and output transitions, in the order they happened, with when. */
function recorder() {
  const sequence: { what: string; atMs: number }[] = [];
  const log = createLogger({
    level: 'info',
    destination: { write: (s: string) => void sequence.push({ what: String((JSON.parse(s) as { msg: unknown }).msg), atMs: performance.now() }) },
  });
  const onTransition = (t: Transition) => sequence.push({ what: `${t.output}:${t.active ? 'on' : 'off'}`, atMs: performance.now() });
  const index = (what: string, from = 0) => sequence.findIndex((e, i) => i >= from && e.what === what);
  const count = (what: string) => sequence.filter((e) => e.what === what).length;
  return { sequence, log, onTransition, index, count };
}

describe('restarts of the run loop', () => {
  const dirs: { remove(): void }[] = [];
  const loops: KioskRunLoop[] = [];
  afterEach(async () => {
    for (const loop of loops.splice(0)) {
      loop.stop('test over');
      await loop.done().catch(() => undefined);
    }
    for (const d of dirs.splice(0)) d.remove();
  });
  const kioskDir = (o: Parameters<typeof writeKioskConfig>[1] = {}) => {
    const dir = tempDir('safegate-restart-');
    dirs.push(dir);
    hubKeys(dir.path);
    return writeKioskConfig(dir.path, o);
  };

  it('a restart waits for the relay pulse of an admitted person to end, then stops the kiosk', async () => {
    const file = kioskDir({ pulseMs: 1_500 });
    const r = recorder();
    const loop = new KioskRunLoop(file, { headless: true, log: r.log, onTransition: r.onTransition });
    loops.push(loop);
    const kiosk = (await loop.start()) as Kiosk;
    kiosk.signals.admit();
    kiosk.requestRestart('settings changed');
    await waitFor(() => (loop.current instanceof Kiosk && loop.current !== kiosk ? true : undefined), 'the new kiosk');
    const on = r.index('relay:on');
    const off = r.index('relay:off', on);
    // The pulse ran its whole length (not cut by the stop), and the kiosk stopped after it.
    expect(r.sequence[off]!.atMs - r.sequence[on]!.atMs).toBeGreaterThanOrEqual(1_400);
    expect(off).toBeLessThan(r.index('kiosk stopped'));
    expect(r.index('restart waits for the gate to be idle (relay pulse or emergency hold)')).toBeGreaterThan(on);
  });

  it('a stop (SIGTERM) while a restart is under way ends the run: no second kiosk is composed', async () => {
    const file = kioskDir({ pulseMs: 1_500 });
    const r = recorder();
    const loop = new KioskRunLoop(file, { headless: true, log: r.log, onTransition: r.onTransition });
    loops.push(loop);
    const kiosk = (await loop.start()) as Kiosk;
    kiosk.signals.admit();
    kiosk.requestRestart('settings changed');
    await waitFor(() => (r.index('restart waits for the gate to be idle (relay pulse or emergency hold)') >= 0 ? true : undefined), 'the restart waiting');
    loop.stop('SIGTERM');
    expect(await loop.done()).toEqual({ unwritten: 0, lost: 0 });
    expect(r.count('kiosk started')).toBe(1);
    expect(r.count('kiosk stopped')).toBe(1);
    expect(kiosk.db.open).toBe(false);
  });

  it('Kiosk.stop() goes on past a part that fails to stop: outputs released, store closed, status cleared', async () => {
    const file = kioskDir();
    const r = recorder();
    const kiosk = new Kiosk(loadSettings(file), { headless: true, log: r.log });
    kiosk.start();
    const status = runtimeFiles(loadSettings(file).paths.store).status;
    expect(existsSync(status)).toBe(true);
    (kiosk as unknown as { retention: { stop(): void } }).retention.stop = () => {
      throw new Error('retention would not stop');
    };
    expect(await kiosk.stop()).toEqual({ unwritten: 0, lost: 0 });
    expect(kiosk.db.open).toBe(false);
    expect(existsSync(status)).toBe(false);
    expect(r.index('a part of the kiosk failed to stop; stopping the rest')).toBeGreaterThanOrEqual(0);
    expect(r.index('kiosk stopped')).toBeGreaterThan(r.index('a part of the kiosk failed to stop; stopping the rest'));
  });

  it('safegate run whose screens cannot start (port taken) stops the kiosk before it returns', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const file = kioskDir({ screens: { port } });
      const status = runtimeFiles(loadSettings(file).paths.store).status;
      const listeners = process.listenerCount('SIGTERM');
      await expect(runKiosk(file, false, 'address')).rejects.toThrow(/EADDRINUSE|in use/);
      // Stopped: no runtime status left (a running kiosk rewrites it every 2 s), no handler left behind.
      expect(existsSync(status)).toBe(false);
      expect(process.listenerCount('SIGTERM')).toBe(listeners);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('certificate renewal never loops on restarts', () => {
  const root = tempDir('safegate-renew-clamp-');
  let hub: LocalEnrolHub;
  beforeAll(async () => {
    hub = await new LocalEnrolHub(join(root.path, 'hub')).start();
  });
  afterAll(async () => {
    await hub.stop();
    root.remove();
  });

  it('a certificate less than a day old is never due, whatever renewBeforeDays says', () => {
    const cert = { notBeforeMs: 1_000 * DAY, notAfterMs: 1_030 * DAY };
    expect(renewalDueAtMs(cert, 'kiosk-a-0001', 60)).toBeGreaterThanOrEqual(1_001 * DAY);
    expect(renewalDueAtMs(cert, 'kiosk-a-0001', 3650)).toBeGreaterThanOrEqual(1_001 * DAY);
  });

  it('renewBeforeDays longer than the lifetime the hub issues: a fresh certificate is not renewed again at each (re)start', async () => {
    const d = join(root.path, 'kiosk');
    mkdirSync(d, { recursive: true });
    const config = join(d, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' }, enrolment: { renewBeforeDays: 3650 } }));
    expect(await enrolDevice(hub.newCode('kiosk-rc-0001'), { settingsFile: config })).toMatchObject({ ok: true });
    const restarts: string[] = [];
    // Each composition makes a new renewer that checks at once: three compositions, no renewal.
    for (let i = 0; i < 3; i++) {
      const renewer = new CertificateRenewer({ settingsFile: config, requestRestart: (reason) => restarts.push(reason) });
      expect(await renewer.check()).toMatchObject({ kind: 'not-due' });
    }
    expect(hub.renewals).toBe(0);
    expect(restarts).toEqual([]);
  });
});
