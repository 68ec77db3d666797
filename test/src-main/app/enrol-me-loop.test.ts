import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import type { Transition } from '../../../device/gpio/output.js';
import { EnrolMeKiosk, Kiosk } from '../../../src-main/app/kiosk.js';
import { KioskRunLoop } from '../../../src-main/app/run-loop.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { hubKeys, passFor, tempDir, waitFor, writeKioskConfig } from '../../helpers/fixtures.js';

/**
 * The run loop in this process: a composed kiosk's `requestRestart` stops it cleanly (outputs
 * inactive, store closed) and composes it again from the files, which it re-reads (a changed file
 * takes effect); a kiosk composed outside the loop only logs the request.
 */
describe('the run loop recomposes the kiosk on request', () => {
  const dirs: { remove(): void }[] = [];
  const loops: KioskRunLoop[] = [];
  afterEach(async () => {
    for (const loop of loops.splice(0)) {
      loop.stop('test over');
      await loop.done().catch(() => undefined);
    }
    for (const d of dirs.splice(0)) d.remove();
  });

  it('requestRestart: the running kiosk stops (store closed, outputs off) and a new one is composed from the files as they are now, keeping the log', async () => {
    const dir = tempDir('safegate-run-loop-');
    dirs.push(dir);
    const keys = hubKeys(dir.path);
    // Long pulses: the red light of a refusal is still on when the restart comes.
    const file = writeKioskConfig(dir.path, { pulseMs: 2_000 });
    const transitions: Transition[] = [];
    const logs: Record<string, unknown>[] = [];
    /** Log lines and output transitions in the order they happened. */
    const sequence: string[] = [];
    const log = createLogger({
      level: 'info',
      destination: {
        write: (s: string) => {
          const entry = JSON.parse(s) as Record<string, unknown>;
          logs.push(entry);
          sequence.push(String(entry.msg));
        },
      },
    });
    const loop = new KioskRunLoop(file, {
      headless: true,
      log,
      onTransition: (t) => {
        transitions.push(t);
        sequence.push(`${t.output}:${t.active ? 'on' : 'off'}`);
      },
    });
    loops.push(loop);
    const first = await loop.start();
    expect(first).toBeInstanceOf(Kiosk);
    const kiosk = first as Kiosk;
    const passage = kiosk.gatekeeper.handleScan({ text: passFor(keys, 'W1'), source: 'camera', receivedAtNs: process.hrtime.bigint() });
    expect(passage.decision.reasons).toEqual(['UNKNOWN_WORKER']);
    // Refused: the red light is on for its pulse when the restart comes.
    expect(transitions.some((t) => t.output === 'redLight' && t.active)).toBe(true);

    // The file changes (as a remote settings document would change the effective settings).
    const doc = parse(readFileSync(file, 'utf8')) as { checkpoint: Record<string, unknown> };
    doc.checkpoint['name'] = 'Cổng B';
    writeFileSync(file, stringify(doc));
    kiosk.requestRestart('settings changed');
    await waitFor(() => (loop.current instanceof Kiosk && loop.current !== kiosk ? true : undefined), 'a new kiosk');
    const second = loop.current as Kiosk;
    expect(kiosk.db.open).toBe(false);
    // The red light was driven off by the stop, before the store closed and the new composition started.
    const requested = sequence.indexOf('restarting the kiosk: composing it again from the settings files');
    const stopped = sequence.indexOf('kiosk stopped');
    const started = sequence.lastIndexOf('kiosk started');
    expect(sequence.lastIndexOf('redLight:on')).toBeLessThan(stopped);
    expect(sequence.indexOf('redLight:off')).toBeLessThan(stopped);
    expect(stopped).toBeLessThan(requested);
    expect(requested).toBeLessThan(started);
    expect(second.settings.checkpoint.name).toBe('Cổng B');
    expect(second.events.get(passage.seq!)?.reasons).toEqual(['UNKNOWN_WORKER']);
    expect(logs.some((l) => l.msg === 'restarting the kiosk: composing it again from the settings files' && l.reason === 'settings changed')).toBe(true);
    // A request from the kiosk already stopped is not a second restart.
    kiosk.requestRestart('late');
    await new Promise((r) => setTimeout(r, 100));
    expect(loop.current).toBe(second);

    loop.stop('test over');
    expect(await loop.done()).toEqual({ unwritten: 0, lost: 0 });
    expect(second.db.open).toBe(false);
  });

  it('not enrolled -> "enrol me"; a file that names a device and checkpoint after a successful enrolment is composed as the kiosk', async () => {
    const dir = tempDir('safegate-run-loop-');
    dirs.push(dir);
    hubKeys(dir.path);
    const file = writeKioskConfig(dir.path);
    const full = readFileSync(file, 'utf8');
    const doc = parse(full) as Record<string, unknown>;
    delete doc['device'];
    delete doc['checkpoint'];
    writeFileSync(file, stringify(doc));
    const codes: string[] = [];
    const loop = new KioskRunLoop(file, {
      headless: true,
      log: createLogger({ level: 'silent' }),
      enrol: async (text) => {
        codes.push(text);
        writeFileSync(file, full);
        return { ok: true, deviceId: 'test-kiosk-01' };
      },
    });
    loops.push(loop);
    const first = await loop.start();
    expect(first).toBeInstanceOf(EnrolMeKiosk);
    const enrolMe = first as EnrolMeKiosk;
    expect(enrolMe.enrolmentView().state).toBe('needed');
    enrolMe.submitCode('W1-not-a-code');
    expect(codes).toEqual([]);
    const code = `SGE1:https://127.0.0.1:1#d=test-kiosk-01&t=${'A'.repeat(43)}&ca=${'ab'.repeat(32)}`;
    enrolMe.submitCode(code);
    await waitFor(() => (loop.current instanceof Kiosk ? true : undefined), 'the kiosk composed');
    expect(codes).toEqual([code]);
    expect(loop.settings.device.id).toBe('test-kiosk-01');
  });

  it('a kiosk composed outside the run loop only logs a restart request', () => {
    const dir = tempDir('safegate-run-loop-');
    dirs.push(dir);
    hubKeys(dir.path);
    const logs: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', destination: { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) } });
    const kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: true, log });
    try {
      kiosk.requestRestart('renewed');
      expect(logs.find((l) => l.reason === 'renewed')?.msg).toBe('restart requested, but this kiosk runs outside the run loop: restart it by hand');
    } finally {
      void kiosk.stop();
    }
  });
});
