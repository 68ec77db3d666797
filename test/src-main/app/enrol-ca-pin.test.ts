import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEnrolmentCode } from '../../../base/common/enrolment.js';
import { createLogger } from '../../../base/node/logger.js';
import { EnrolMeKiosk } from '../../../src-main/app/kiosk.js';
import { KioskRunLoop } from '../../../src-main/app/run-loop.js';
import { enrolDevice } from '../../../src-main/core/enrolment/index.js';
import { safegate } from '../../helpers/cli.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';

/**
 * The province-wide CA pin (`enrolment.caFingerprint` in the kiosk's own file): a code for another
 * hub's CA is refused as CA_MISMATCH before any network request, at the gate and at the shell.
 * A TCP listener stands at the address the codes name and counts who connects.
 */
describe('enrolment.caFingerprint: codes for another hub refused before any network request', () => {
  const root = tempDir('safegate-ca-pin-');
  const pinned = 'ab'.repeat(32);
  const other = 'cd'.repeat(32);
  let listener: Server;
  let connections = 0;
  let port = 0;
  beforeAll(async () => {
    listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => listener.close(resolve));
    root.remove();
  });
  const code = (ca: string) => formatEnrolmentCode({ hubUrl: `https://127.0.0.1:${port}`, deviceId: 'kiosk-p-0001', token: 'A'.repeat(43), caFingerprint: ca });
  const config = (name: string, pin?: string) => {
    const file = join(root.path, `${name}.yaml`);
    writeFileSync(
      file,
      stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' }, store: { path: `${name}/safegate.db` }, ...(pin ? { enrolment: { caFingerprint: pin } } : {}) }),
    );
    return file;
  };
  const settle = () => new Promise((r) => setTimeout(r, 200));

  it('scanned at the gate: CA_MISMATCH in words on the screen, nobody contacted; the pinned CA goes on to the hub (upper-case pin too)', async () => {
    const loop = new KioskRunLoop(config('gate', pinned.toUpperCase()), { headless: true, log: createLogger({ level: 'silent' }) });
    try {
      const enrolMe = (await loop.start()) as EnrolMeKiosk;
      expect(enrolMe).toBeInstanceOf(EnrolMeKiosk);
      enrolMe.submitCode(` ${code(other)}\n`);
      const view = await waitFor(() => (enrolMe.enrolmentView().state === 'failed' ? enrolMe.enrolmentView() : undefined), 'the refusal');
      expect(view).toMatchObject({ reason: 'CA_MISMATCH' });
      await settle();
      expect(connections).toBe(0);
    } finally {
      loop.stop('test over');
      await loop.done();
    }
    // The code of the pinned hub is not stopped by the pin: the kiosk goes to the hub (here: nothing answers there).
    const r = await enrolDevice(code(pinned), { settingsFile: config('gate2', pinned), timeoutMs: 2_000 });
    expect(r).toMatchObject({ ok: false });
    expect(r.ok === false && r.reason).not.toBe('CA_MISMATCH');
    await settle();
    expect(connections).toBeGreaterThan(0);
  });

  it('safegate enrol at the shell (with --force too): exit 1 with the reason in words, nobody contacted', async () => {
    const before = connections;
    const file = config('shell', pinned);
    for (const extra of [[], ['--force']]) {
      const r = safegate(['enrol', '--config', file, '--token', code(other), ...extra]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('enrolment failed (CA_MISMATCH)');
      expect(r.stderr).toContain('this code is for another hub than the one this kiosk was installed for');
    }
    const json = safegate(['enrol', '--config', file, '--token', code(other), '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ ok: false, reason: 'CA_MISMATCH', message: 'this code is for another hub than the one this kiosk was installed for' });
    await settle();
    expect(connections).toBe(before);
  });

  it('a pin that is not 64 hex characters is a settings error', () => {
    const r = safegate(['config', 'check', '--config', config('bad', 'abc')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('enrolment.caFingerprint: must be 64 hexadecimal characters');
  });
});
