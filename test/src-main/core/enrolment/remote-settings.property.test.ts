import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { acceptRemoteSettings, loadSettings } from '../../../../src-main/core/enrolment/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { makeEnrolledFolder } from './enrolled-folder.js';

/**
 * Whatever a (correctly signed) remote document holds, acceptRemoteSettings answers: accepted with
 * the changed paths, or refused with at most 20 problems of at most 300 characters (what the
 * heartbeat carries); it never throws, and the kiosk's settings still load afterwards.
 */
describe('acceptRemoteSettings on generated documents', () => {
  const d = tempDir('safegate-remote-prop-');
  afterAll(() => d.remove());
  const config = join(d.path, 'kiosk.yaml');
  writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
  const f = makeEnrolledFolder(join(d.path, 'enrolment'));

  const key = fc.constantFrom('screens', 'language', 'resultSeconds', 'gate', 'relay', 'pin', 'pulseMs', 'log', 'level', 'device', 'store', 'hub', 'keysDir', 'broker', 'url', 'checkpoint', 'name', '__proto__', 'constructor', 'x');
  const leaf = fc.oneof(fc.integer({ min: -5, max: 100 }), fc.constantFrom('en', 'vi', 'debug', 'gate', ''), fc.boolean(), fc.constant(null), fc.string({ maxLength: 400 }));
  const tree = fc.letrec((tie) => ({ node: fc.oneof({ depthSize: 'small' }, leaf, fc.dictionary(key, tie('node'), { maxKeys: 4 })) })).node;

  it('answers every document with an outcome the heartbeat can carry, and never breaks loading', () => {
    let version = 1;
    fc.assert(
      fc.property(fc.dictionary(key, tree, { maxKeys: 4 }), (settings) => {
        version++;
        const r = acceptRemoteSettings(config, f.sign({ version, source: 'remote', settings: settings as Record<string, unknown> }), Date.now());
        if (r.ok) {
          expect(r.version).toBe(version);
          expect(r.changed.every((p) => typeof p === 'string')).toBe(true);
        } else {
          expect(r.version).toBe(version);
          expect(r.problems.length).toBeGreaterThan(0);
          expect(r.problems.length).toBeLessThanOrEqual(20);
          for (const p of r.problems) expect(p.length).toBeLessThanOrEqual(300);
        }
        expect(loadSettings(config).settings.device.id).toBe(f.deviceId);
      }),
      { numRuns: 60 },
    );
  });
});
