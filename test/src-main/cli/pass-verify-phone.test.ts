import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { issuePhonePass, provePhonePass } from '../../../base/node/phone-pass.js';
import { safegate } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/fixtures.js';

/** `safegate pass verify` at a desk reads a phone's code (SGP1:) as a kiosk would, and says why it refuses one. */
describe('safegate pass verify with a phone code', () => {
  const dir = tempDir('safegate-verify-phone-');
  afterAll(() => dir.remove());

  it("explains a phone's code: its worker, that it is bound to a phone, the proof's age; a screenshot of it two minutes later is PASS_STALE, another phone's BAD_SIGNATURE", () => {
    const keys = join(dir.path, 'hub');
    expect(safegate(['keys', 'generate', '--role', 'phone-pass', '--out', keys]).status).toBe(0);
    const hubKey = createPrivateKey(readFileSync(join(keys, readdirSync(keys).find((f) => f.endsWith('.key.pem'))!)));
    const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { pass } = issuePhonePass(hubKey, { workerId: 'W0001', issuer: 'hub.1', expiresAt: new Date(Date.now() + 86_400_000), holderKey: phone.publicKey });
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    const code = provePhonePass(pass, phone.privateKey, at.getTime());
    const ok = safegate(['pass', 'verify', code, '--keys', keys, '--at', new Date(at.getTime() + 10_000).toISOString()]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/worker: +W0001/);
    expect(ok.stdout).toMatch(/bound to: +a phone/);
    expect(ok.stdout).toMatch(/proof: +made .*, 10 s before the check/);
    expect(ok.stdout).toMatch(/result: +VALID/);
    const late = safegate(['pass', 'verify', code, '--keys', keys, '--at', new Date(at.getTime() + 120_000).toISOString()]);
    expect(late.status).toBe(1);
    expect(late.stdout).toMatch(/INVALID PASS_STALE: The code on the phone is out of date/);
    const thief = provePhonePass(pass, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, at.getTime());
    expect(safegate(['pass', 'verify', thief, '--keys', keys, '--at', at.toISOString()]).stdout).toMatch(/INVALID BAD_SIGNATURE/);
  });
});
