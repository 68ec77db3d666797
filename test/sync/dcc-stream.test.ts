import { describe, expect, it } from 'vitest';
import { DOWNLINK_STREAMS } from '../../base/common/types.js';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { generateSigningKeyPair, HubKeyring } from '../../base/node/keys.js';
import { MAX_DCC_CERTIFICATE_BYTES, MAX_DOWNLINK_BYTES, openDownlink, sealDownlink, streamCodecs } from '../../sync/downlink-codec.js';
import { DCC_PART_SIZE } from '../../sync/hub/directory.js';
import { PROTOCOL_VERSION } from '../../sync/protocol.js';
import { OPTIONAL_STREAMS } from '../../sync/downlink.js';
import { mintDccSigner } from '../helpers/dcc.js';

/** The `dcc` downlink stream: the hub's HC1 signers, one record per kid (issue 14 part G2). */

const codec = streamCodecs.dcc;
const signer = mintDccSigner();
const certificate = Buffer.from(signer.der).toString('base64');

describe('dcc downlink stream codec', () => {
  it('is a stream a kiosk may leave out (HC1 off: it never asks for it)', () => {
    expect(DOWNLINK_STREAMS).toContain('dcc');
    expect(OPTIONAL_STREAMS).toContain('dcc');
  });

  it('carries a signer by its kid, with or without a country, and its deletion', () => {
    const value = { kid: signer.kid, country: 'VN', certificate };
    const wire = codec.toWire({ deleted: false, key: signer.kid, value });
    expect(codec.fromWire(wire)).toEqual({ deleted: false, key: signer.kid, value });
    expect(codec.fromWire([0, signer.kid, new Map([['kid', signer.kid], ['certificate', certificate]])])).toEqual({ deleted: false, key: signer.kid, value: { kid: signer.kid, certificate } });
    expect(codec.fromWire(codec.toWire({ deleted: true, key: signer.kid }))).toEqual({ deleted: true, key: signer.kid });
  });

  it('refuses a certificate that is not X.509, an oversize one, extra keys, a bad kid, a kid that is not the record key and one that is not the certificate hash', () => {
    const refuse = (value: unknown, key = signer.kid) => expect(() => codec.fromWire([0, key, value])).toThrow();
    refuse({ kid: signer.kid, certificate: Buffer.from('not a certificate at all').toString('base64') });
    refuse({ kid: signer.kid, certificate: certificate.slice(0, -8) });
    // Over 8 KiB of DER: refused before it is parsed (the base64 length bound, and the DER bound behind it).
    refuse({ kid: signer.kid, certificate: Buffer.alloc(MAX_DCC_CERTIFICATE_BYTES + 3, 0x30).toString('base64') });
    refuse({ kid: signer.kid, certificate: Buffer.alloc(MAX_DCC_CERTIFICATE_BYTES + 1, 0x30).toString('base64').replace(/=+$/, '') });
    refuse({ kid: signer.kid, certificate, subject: 'extra' });
    refuse({ kid: signer.kid, certificate, country: 'Viet Nam!' });
    refuse({ kid: 'not base64 !', certificate }, 'not base64 !');
    refuse({ kid: 'A'.repeat(65), certificate }, 'A'.repeat(64));
    refuse({ kid: 'AAAAAAAAAAA=', certificate });
    // A kid that is its record's key but not the certificate's own (SHA-256 of the DER, first 8 bytes).
    refuse({ kid: 'AAAAAAAAAAA=', certificate }, 'AAAAAAAAAAA=');
    refuse({ certificate });
    expect(() => codec.fromWire([0, signer.kid, 'text'])).toThrow();
  });

  it('a full part of the largest signers, sealed, stays under the kiosk\'s 4 MiB part limit', () => {
    const hub = generateSigningKeyPair();
    const keyring = new HubKeyring();
    keyring.add(createPublicKey(hub.publicPem), { role: 'downlink', source: 'test' });
    const certificate = Buffer.alloc(MAX_DCC_CERTIFICATE_BYTES, 0x5a).toString('base64');
    const body = Array.from({ length: DCC_PART_SIZE }, (_, i) => {
      const kid = Buffer.from(`kid-${i}`.padEnd(8, '.')).toString('base64');
      return codec.toWire({ deleted: false, key: kid, value: { kid, country: 'XX-LONG', certificate } });
    });
    const now = Date.now();
    const sealed = sealDownlink({ v: PROTOCOL_VERSION, stream: 'dcc', kind: 'snapshot', from: 0, to: 1, part: 0, parts: 1, issuedAtMs: now, body }, createPrivateKey(hub.privatePem));
    expect(sealed.length).toBeLessThan(MAX_DOWNLINK_BYTES);
    expect(openDownlink(sealed, keyring, now)).toMatchObject({ ok: true, part: { stream: 'dcc' } });
  });
});
