import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { safegate } from '../../helpers/cli.js';
import { corpus } from '../../helpers/corpora.js';
import { tempDir } from '../../helpers/fixtures.js';

/**
 * `safegate dcc verify TEXT --trust FILE [--at ISO8601] --json` (the fixed name), run as the
 * compiled command on corpus cases with the signer as a PEM, a DER and a trust list file.
 */

interface Case {
  PREFIX: string;
  JSON?: { nam?: { fn?: string; gn?: string } };
  TESTCTX: { CERTIFICATE: string; VALIDATIONCLOCK: string };
}
const ROOT = corpus('dcc');
const load = (p: string) => JSON.parse(readFileSync(join(ROOT, p), 'utf8')) as Case;
const VACC = load('common/2DCode/raw/CO3.json'); // EC P-256, vaccination
const RSA = load('common/2DCode/raw/CO1.json'); // RSA-PSS
const TEST = load('DE/2DCode/raw/2.json');
const BAD_SIG = load('common/2DCode/raw/CO5.json');

const derOf = (c: Case) => Buffer.from(c.TESTCTX.CERTIFICATE, 'base64');
const kidOf = (der: Buffer) => createHash('sha256').update(der).digest().subarray(0, 8).toString('base64');

describe('safegate dcc verify', () => {
  const dir = tempDir('safegate-dcc-');
  afterAll(() => dir.remove());
  const pemFile = join(dir.path, 'signer.pem');
  const derFile = join(dir.path, 'signer.der');
  const listFile = join(dir.path, 'trust-list.json');
  writeFileSync(pemFile, `-----BEGIN CERTIFICATE-----\n${derOf(VACC).toString('base64')}\n-----END CERTIFICATE-----\n`);
  writeFileSync(derFile, derOf(RSA));
  writeFileSync(
    listFile,
    JSON.stringify({
      certificates: [VACC, RSA, TEST].map((c, i) => ({ certificateType: 'DSC', country: ['AT', 'AT', 'DE'][i], kid: kidOf(derOf(c)), rawData: c.TESTCTX.CERTIFICATE, thumbprint: '', timestamp: '' })),
    }),
  );

  function verifyJson(c: Case, trust: string, extra: string[] = []) {
    const r = safegate(['dcc', 'verify', c.PREFIX, '--trust', trust, '--at', c.TESTCTX.VALIDATIONCLOCK, '--json', ...extra]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  it('gives valid, reasons, type and steps in JSON, with a PEM, a DER or a trust list; never the holder unless asked', () => {
    expect(verifyJson(VACC, pemFile)).toMatchObject({ valid: true, reasons: [], type: 'vaccination', steps: { signature: 'ok', expiry: 'ok' }, kid: kidOf(derOf(VACC)) });
    expect(verifyJson(RSA, derFile)).toMatchObject({ valid: true, reasons: [], type: 'vaccination' });
    expect(verifyJson(TEST, listFile)).toMatchObject({ valid: true, reasons: [], type: 'test', issuer: 'DE' });
    // Signed by a signer the file does not hold; a broken signature; too late.
    expect(verifyJson(TEST, pemFile)).toMatchObject({ valid: false, reasons: ['DCC_UNKNOWN_SIGNER'], type: 'test', steps: { signature: 'fail' } });
    const badSigner = join(dir.path, 'co5.der');
    writeFileSync(badSigner, derOf(BAD_SIG));
    expect(verifyJson(BAD_SIG, badSigner)).toMatchObject({ valid: false, reasons: ['DCC_BAD_SIGNATURE'], steps: { signature: 'fail' } });
    const late = safegate(['dcc', 'verify', VACC.PREFIX, '--trust', listFile, '--at', '2030-01-01T00:00:00Z', '--json']);
    expect(late.status).toBe(0);
    expect(JSON.parse(late.stdout)).toMatchObject({ valid: false, reasons: expect.arrayContaining(['DCC_EXPIRED']) });
    const plain = JSON.parse(safegate(['dcc', 'verify', VACC.PREFIX, '--trust', pemFile, '--at', VACC.TESTCTX.VALIDATIONCLOCK, '--json']).stdout) as Record<string, unknown>;
    expect(plain.holder).toBeUndefined();
    const shown = verifyJson(VACC, pemFile, ['--show-holder']);
    expect((shown.holder as { name: string }).name).toContain(VACC.JSON!.nam!.gn);
  }, 120_000);

  it('the text form is one line without the holder; TEXT - reads stdin; usage errors exit 2, an unusable trust file 1', () => {
    const line = safegate(['dcc', 'verify', '-', '--trust', listFile, '--at', VACC.TESTCTX.VALIDATIONCLOCK], { input: VACC.PREFIX + '\n' });
    expect(line.status).toBe(0);
    expect(line.stdout).toMatch(/^VALID vaccination \(issuer AT, kid [^)]+\)\n$/);
    for (const part of [VACC.JSON!.nam!.fn!, VACC.JSON!.nam!.gn!]) expect(line.stdout + line.stderr).not.toContain(part);
    const invalid = safegate(['dcc', 'verify', TEST.PREFIX, '--trust', pemFile, '--at', TEST.TESTCTX.VALIDATIONCLOCK]);
    expect(invalid.status).toBe(0);
    expect(invalid.stdout).toMatch(/^INVALID test: DCC_UNKNOWN_SIGNER /);
    const notHc1 = safegate(['dcc', 'verify', 'hello', '--trust', pemFile, '--json']);
    expect(notHc1.status).toBe(0);
    expect(JSON.parse(notHc1.stdout)).toMatchObject({ valid: false, reasons: ['DCC_PREFIX'], type: null });

    expect(safegate(['dcc', 'verify', VACC.PREFIX]).status).toBe(2);
    expect(safegate(['dcc', 'verify', VACC.PREFIX, '--trust', pemFile, '--at', 'yesterday']).status).toBe(2);
    expect(safegate(['dcc', 'verify', VACC.PREFIX, '--trust', pemFile, '--frobnicate']).status).toBe(2);
    const missing = safegate(['dcc', 'verify', VACC.PREFIX, '--trust', join(dir.path, 'absent.pem')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*absent\.pem/);
    const junk = join(dir.path, 'junk.json');
    writeFileSync(junk, JSON.stringify({ certificates: [{ kid: 'x', rawData: 'AAAA' }] }));
    const refused = safegate(['dcc', 'verify', VACC.PREFIX, '--trust', junk]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/certificates\[0\] \(kid x\): not an X\.509 certificate/);
  }, 120_000);

  it('--rules applies CertLogic rules: a failing rule makes it invalid with DCC_RULE:<id>', () => {
    const rules = join(dir.path, 'rules.json');
    const base = { Type: 'Acceptance', Country: 'VN', Version: '1.0.0', SchemaVersion: '1.3.0', Engine: 'CERTLOGIC', CertificateType: 'Vaccination', ValidFrom: '2021-01-01T00:00:00Z', ValidTo: '2030-01-01T00:00:00Z', AffectedFields: ['v.0.dn'], Description: [{ lang: 'en', desc: 'x' }] };
    writeFileSync(rules, JSON.stringify([{ ...base, Identifier: 'VR-VN-0001', Logic: { '>': [{ var: 'payload.v.0.dn' }, 0] } }, { ...base, Identifier: 'VR-VN-0002', Logic: { '>': [{ var: 'payload.v.0.dn' }, 99] } }]));
    expect(verifyJson(VACC, pemFile, ['--rules', rules])).toMatchObject({
      valid: false,
      reasons: ['DCC_RULE:VR-VN-0002'],
      rules: [
        { id: 'VR-VN-0001', outcome: 'pass' },
        { id: 'VR-VN-0002', outcome: 'fail' },
      ],
    });
    writeFileSync(rules, JSON.stringify([{ ...base, Identifier: 'VR-VN-0001', Logic: { '>': [{ var: 'payload.v.0.dn' }, 0] } }]));
    expect(verifyJson(VACC, pemFile, ['--rules', rules])).toMatchObject({ valid: true, reasons: [] });
    writeFileSync(rules, '[{"Identifier": "VR-VN-0003"}]');
    const bad = safegate(['dcc', 'verify', VACC.PREFIX, '--trust', pemFile, '--rules', rules]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/VR-VN-0003/);
  }, 120_000);
});
