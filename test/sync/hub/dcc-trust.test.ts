import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDccTrustImport, DccTrustImportError } from '../../../sync/hub/dcc-trust.js';
import { corpus } from '../../helpers/corpora.js';

/** The hub's HC1 trust import check (issue 14 part G). */

const CERT = (JSON.parse(readFileSync(join(corpus('dcc'), 'common', '2DCode', 'raw', 'CO28.json'), 'utf8')) as { TESTCTX: { CERTIFICATE: string } }).TESTCTX.CERTIFICATE;
const DGCG = Buffer.from(JSON.stringify([{ country: 'DE', certificateType: 'DSC', rawData: CERT }]));
const CERTIFICATES = Buffer.from(JSON.stringify({ certificates: [{ country: 'DE', certificateType: 'DSC', rawData: CERT }] }));

describe('hub DCC trust import check', () => {
  it('accepts both EU gateway list formats and a PEM; refuses empty, invalid and CSCA-only files naming why', () => {
    expect(checkDccTrustImport(DGCG).signers).toHaveLength(1);
    expect(checkDccTrustImport(CERTIFICATES).signers).toHaveLength(1);
    expect(checkDccTrustImport(Buffer.from(`-----BEGIN CERTIFICATE-----\n${CERT}\n-----END CERTIFICATE-----\n`)).signers).toHaveLength(1);
    expect(() => checkDccTrustImport(new Uint8Array(0))).toThrow(DccTrustImportError);
    expect(() => checkDccTrustImport(Buffer.from('[]'))).toThrow(/no signer/);
    expect(() => checkDccTrustImport(Buffer.from(JSON.stringify([{ certificateType: 'CSCA', rawData: CERT }])))).toThrow(/no signer/);
    expect(() => checkDccTrustImport(Buffer.from(JSON.stringify([{ kid: 'abc', rawData: 'AAAA' }])))).toThrow(/trust list refused: .*entry/);
  });
});
