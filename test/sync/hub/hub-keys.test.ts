import { createPrivateKey } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { CliError } from '../../../src-main/cli/errors.js';
import { refuseSharedPassKey, runHub } from '../../../src-main/cli/hub-commands.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('hub pass keys', () => {
  const dir = tempDir('safegate-hubkeys-');
  afterAll(() => dir.remove());

  it('hub run refuses to start when passKey and phonePassKey are one key, even in two files (the public keys are compared)', async () => {
    const pair = generateSigningKeyPair('EdDSA');
    // The same key in two files of different names (a copy made by mistake).
    writeFileSync(join(dir.path, 'hub-pass.key.pem'), pair.privatePem);
    writeFileSync(join(dir.path, 'hub-phone-pass.key.pem'), pair.privatePem);
    const config = join(dir.path, 'hub.yaml');
    writeFileSync(
      config,
      stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:1' }, passKey: 'hub-pass.key.pem', phonePassKey: 'hub-phone-pass.key.pem', console: { enabled: false } }),
    );
    await expect(runHub(config)).rejects.toThrow(new CliError('passKey and phonePassKey are the same key: the hub needs two keys (make the phone pass key with `safegate keys generate --role phone-pass`)'));
    // Refused before anything was opened.
    expect(existsSync(join(dir.path, 'hub.db'))).toBe(false);
  });

  it('two different keys, or only one of them, are taken', () => {
    const pass = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
    const phone = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
    expect(() => refuseSharedPassKey(pass, phone)).not.toThrow();
    expect(() => refuseSharedPassKey(pass, undefined)).not.toThrow();
    expect(() => refuseSharedPassKey(pass, pass)).toThrow(CliError);
  });
});
