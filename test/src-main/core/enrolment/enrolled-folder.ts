import { createPrivateKey, type KeyObject } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceSettingsDocument } from '../../../../base/common/enrolment.js';
import { signCoseSign1 } from '../../../../base/node/cose.js';
import { generateSigningKeyPair, keyIdFileName, keyIdOf } from '../../../../base/node/keys.js';
import { pemFingerprint } from '../../../../src-main/core/enrolment/folder.js';
import { TestCertificates } from '../../../helpers/mosquitto.js';

/**
 * An enrolment folder as `safegate enrol` leaves it, made without a hub (for tests of the layering
 * and of remote settings): a test CA (openssl), the device's certificate and key, a downlink and a
 * pass key, and the enrolment document signed by the downlink key.
 */
export interface EnrolledFixture {
  dir: string;
  deviceId: string;
  downlinkKey: KeyObject;
  certs: TestCertificates;
  /** Signs a settings document with the folder's downlink key (or another key). */
  sign(doc: Partial<DeviceSettingsDocument> & Pick<DeviceSettingsDocument, 'settings'>, key?: KeyObject): Uint8Array;
}

export function makeEnrolledFolder(dir: string, o: { deviceId?: string; settings?: Record<string, unknown>; brokerUrl?: string } = {}): EnrolledFixture {
  const deviceId = o.deviceId ?? 'kiosk-e-0001';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const certs = new TestCertificates(join(dir, '..', `ca-${deviceId}`));
  certs.issue('device', deviceId);
  copyFileSync(join(certs.dir, 'ca.crt'), join(dir, 'ca.crt'));
  copyFileSync(join(certs.dir, 'device.crt'), join(dir, 'device.crt'));
  copyFileSync(join(certs.dir, 'device.key'), join(dir, 'device.key'));
  chmodSync(join(dir, 'device.key'), 0o600);
  const downlink = generateSigningKeyPair('ES256');
  const pass = generateSigningKeyPair('ES256');
  for (const [role, k] of [['downlink', downlink], ['pass', pass]] as const) {
    mkdirSync(join(dir, 'keys', role), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'keys', role, `${keyIdFileName(k.kid)}.pub.pem`), k.publicPem, { mode: 0o600 });
  }
  const downlinkKey = createPrivateKey(downlink.privatePem);
  const sign: EnrolledFixture['sign'] = (doc, key = downlinkKey) => {
    const full: DeviceSettingsDocument = { v: 1, deviceId, version: 1, issuedAtMs: Date.now(), source: 'enrolment', ...doc };
    return signCoseSign1(new TextEncoder().encode(JSON.stringify(full)), key, keyIdOf(key));
  };
  const settings = o.settings ?? { checkpoint: { id: 'gate-e', name: 'Cổng E', kind: 'gate', site: 'site-e' } };
  writeFileSync(join(dir, 'settings.cose'), sign({ settings }), { mode: 0o600 });
  writeFileSync(
    join(dir, 'state.json'),
    JSON.stringify({
      deviceId,
      hubUrl: 'https://127.0.0.1:8443',
      brokerUrl: o.brokerUrl ?? 'mqtts://127.0.0.1:8883',
      caFingerprint: pemFingerprint(certs.credentials('device').ca.toString()),
      enrolledAtMs: Date.now(),
      certNotAfterMs: Date.now() + 2 * 86_400_000,
    }),
    { mode: 0o600 },
  );
  return { dir, deviceId, downlinkKey, certs, sign };
}
