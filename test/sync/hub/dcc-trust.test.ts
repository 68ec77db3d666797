import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPair, HubKeyring } from '../../../base/node/keys.js';
import { DCC_TRUST_FORMAT, DccTrustHolder, type DccTrustStorage } from '../../../src-main/core/dcc/index.js';
import { checkDccTrustImport, DCC_TRUST_DOCUMENT_FORMAT, DccTrustImportError, sealDccTrust } from '../../../sync/hub/dcc-trust.js';
import { corpus } from '../../helpers/corpora.js';

/** The hub's HC1 trust import check and sealing (issue 14 part G), opened by the kiosk's holder. */

const CERT = (JSON.parse(readFileSync(join(corpus('dcc'), 'common', '2DCode', 'raw', 'CO28.json'), 'utf8')) as { TESTCTX: { CERTIFICATE: string } }).TESTCTX.CERTIFICATE;
const DGCG = Buffer.from(JSON.stringify([{ country: 'DE', certificateType: 'DSC', rawData: CERT }]));
const CERTIFICATES = Buffer.from(JSON.stringify({ certificates: [{ country: 'DE', certificateType: 'DSC', rawData: CERT }] }));

describe('hub DCC trust import and sealing', () => {
  it('accepts both EU gateway list formats and a PEM; refuses empty, invalid and CSCA-only files naming why', () => {
    expect(checkDccTrustImport(DGCG).signers).toHaveLength(1);
    expect(checkDccTrustImport(CERTIFICATES).signers).toHaveLength(1);
    expect(checkDccTrustImport(Buffer.from(`-----BEGIN CERTIFICATE-----\n${CERT}\n-----END CERTIFICATE-----\n`)).signers).toHaveLength(1);
    expect(() => checkDccTrustImport(new Uint8Array(0))).toThrow(DccTrustImportError);
    expect(() => checkDccTrustImport(Buffer.from('[]'))).toThrow(/no signer/);
    expect(() => checkDccTrustImport(Buffer.from(JSON.stringify([{ certificateType: 'CSCA', rawData: CERT }])))).toThrow(/no signer/);
    expect(() => checkDccTrustImport(Buffer.from(JSON.stringify([{ kid: 'abc', rawData: 'AAAA' }])))).toThrow(/trust list refused: .*entry/);
  });

  it('what the hub seals with its downlink key a kiosk trusting that key keeps; the format names agree', () => {
    expect(DCC_TRUST_DOCUMENT_FORMAT).toBe(DCC_TRUST_FORMAT);
    const hub = generateSigningKeyPair('EdDSA');
    const keyring = new HubKeyring();
    keyring.add(createPublicKey(hub.publicPem), { role: 'downlink', source: 'test' });
    let held: { version: number; signed: Uint8Array } | null = null;
    const storage: DccTrustStorage = { load: () => held, save: (version, signed) => void (held = { version, signed }) };
    const holder = new DccTrustHolder(storage, keyring);
    expect(holder.offer(sealDccTrust(DGCG, 2, createPrivateKey(hub.privatePem)), Date.now())).toEqual({ ok: true, version: 2, signers: 1 });
    const other = generateSigningKeyPair('EdDSA');
    expect(holder.offer(sealDccTrust(DGCG, 3, createPrivateKey(other.privatePem)), Date.now())).toMatchObject({ ok: false, reason: 'UNKNOWN_KEY' });
    expect(() => sealDccTrust(DGCG, 0, createPrivateKey(hub.privatePem))).toThrow(RangeError);
  });
});
