import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decode as base45Decode, encode as base45Encode } from '@digitalbazaar/base45';
import fc from 'fast-check';
import { encodeCbor } from '../../../base/node/cose.js';
import { HubKeyring, generateSigningKeyPair } from '../../../base/node/keys.js';
import { checkPhonePass, decodePhoneCode, issuePhonePass, provePhonePass, PHONE_PASS_PREFIX, type PhonePassCheck, type ProofTimeRules } from '../../../base/node/phone-pass.js';
import { PASS_FAILURES } from './credential.js';
import { check, scratchDir, show, target, type AnyFuzzTarget, type Closer } from '../harness.js';
import { join } from 'node:path';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PhoneLinkError, PhoneLinks } from '../../../sync/hub/phone-links.js';

/**
 * The phone code parser and verifier (base/node/phone-pass.ts): whatever is scanned after `SGP1:`,
 * the kiosk never throws, refuses with a pass failure and its reason, and admits only a code whose
 * pass, time and signature are exactly what the bound phone made, within the time rules.
 */

const BASE45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const NOW_MS = Date.parse('2026-06-01T08:00:00Z');
const NOW_S = Math.floor(NOW_MS / 1000);
const DAY = 86_400_000;

interface PhoneFixture {
  ring: HubKeyring;
  phone: KeyObject;
  thief: KeyObject;
  /** Passes really issued: one bound to `phone` by the trusted phone-pass key, one by a printed-pass key. */
  bound: Uint8Array;
  byPrintedKey: Uint8Array;
  boundWorker: string;
}

function fixture(): PhoneFixture {
  const hub = generateSigningKeyPair('EdDSA');
  const printed = generateSigningKeyPair('ES256');
  const ring = new HubKeyring();
  ring.add(createPublicKey(hub.publicPem), { role: 'phone-pass', source: 'fuzz' });
  ring.add(createPublicKey(printed.publicPem), { role: 'pass', source: 'fuzz' });
  const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const options = { workerId: 'W1', issuer: 'fuzz-hub', issuedAt: new Date(NOW_MS - DAY), expiresAt: new Date(NOW_MS + 30 * DAY), holderKey: phone.publicKey };
  return {
    ring,
    phone: phone.privateKey,
    thief: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    bound: issuePhonePass(createPrivateKey(hub.privatePem), options).pass,
    byPrintedKey: issuePhonePass(createPrivateKey(printed.privatePem), options).pass,
    boundWorker: 'W1',
  };
}

type PhoneInput =
  | { mode: 'string'; text: string }
  | { mode: 'proof'; signer: 'phone' | 'thief'; pass: 'bound' | 'printed-key'; offsetS: number; rules: ProofTimeRules }
  | { mode: 'edited'; offsetS: number; edits: { at: number; byte: number; op: 'set' | 'insert' | 'delete' }[] }
  | { mode: 'structure'; items: unknown[] };

const rules: fc.Arbitrary<ProofTimeRules> = fc.record({
  maxProofAgeSeconds: fc.integer({ min: 5, max: 600 }),
  phoneClockSkewSeconds: fc.integer({ min: 0, max: 600 }),
  kioskClockSynced: fc.boolean(),
  unverifiedKioskClock: fc.constantFrom('check' as const, 'accept-with-flag' as const, 'deny' as const),
});

const DEFAULT_RULES: ProofTimeRules = { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'check' };

const itemValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.uint8Array({ maxLength: 80 }),
  fc.uint8Array({ minLength: 64, maxLength: 64 }),
  fc.integer({ min: NOW_S - 1000, max: NOW_S + 1000 }),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, 2 ** 64, Number.NaN, null, true, '', 'SGP1'),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.string({ maxLength: 20 }),
  fc.constant(new Map([[1, 2]])),
);

const phoneInput: fc.Arbitrary<PhoneInput> = fc.oneof(
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...BASE45), maxLength: 160 }).map((s) => PHONE_PASS_PREFIX + s),
    fc.string({ unit: 'binary', maxLength: 80 }).map((s) => PHONE_PASS_PREFIX + s),
    fc.constantFrom(PHONE_PASS_PREFIX, 'SGP1', 'sgp1:00', `${PHONE_PASS_PREFIX}00`, `${PHONE_PASS_PREFIX} `),
  ).map((text) => ({ mode: 'string' as const, text })),
  fc.record({
    mode: fc.constant('proof' as const),
    signer: fc.constantFrom('phone' as const, 'thief' as const),
    pass: fc.constantFrom('bound' as const, 'printed-key' as const),
    offsetS: fc.oneof(fc.integer({ min: -700, max: 700 }), fc.constantFrom(-60, -61, 30, 31, 0)),
    rules: fc.oneof(fc.constant(DEFAULT_RULES), rules),
  }),
  fc.record({
    mode: fc.constant('edited' as const),
    offsetS: fc.integer({ min: -50, max: 20 }),
    edits: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), op: fc.constantFrom('set' as const, 'insert' as const, 'delete' as const) }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ mode: fc.constant('structure' as const), items: fc.array(itemValue, { maxLength: 5 }) }),
);

function edit(bytes: Uint8Array, edits: { at: number; byte: number; op: 'set' | 'insert' | 'delete' }[]): Uint8Array {
  const out = [...bytes];
  for (const e of edits) {
    const at = out.length === 0 ? 0 : e.at % (out.length + (e.op === 'insert' ? 1 : 0));
    if (e.op === 'set' && out.length) out[at] = e.byte;
    else if (e.op === 'insert') out.splice(at, 0, e.byte);
    else if (e.op === 'delete') out.splice(at, 1);
  }
  return new Uint8Array(out);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What every result must look like, whatever was scanned. */
function checkShape(text: string, result: PhonePassCheck): void {
  if (result.ok) {
    check(result.pass.claims.workerId === 'W1' && /^[0-9a-f]{16}$/.test(result.pass.claims.passId), () => `admitted ${show(result)}`);
  } else {
    check(PASS_FAILURES.includes(result.failure), () => `failure ${show(result.failure)} for ${show(text, 80)}`);
    check(typeof result.detail === 'string' && result.detail.length > 0, 'a refusal without its reason');
  }
}

/** What a phone (or anyone) may send to use a link: a token and a key, each anything JSON can carry. */
const b64url43 = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 43, maxLength: 43 });
const jsonish: fc.Arbitrary<unknown> = fc.oneof(fc.string({ maxLength: 50 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(fc.integer(), { maxLength: 3 }));
const redeemInput = fc.record({
  token: fc.oneof(fc.constant('open'), b64url43, fc.string({ maxLength: 60 }), jsonish),
  key: fc.oneof(
    jsonish,
    fc.record({ kty: fc.oneof(fc.constant('EC'), jsonish), crv: fc.oneof(fc.constantFrom('P-256', 'P-384', 'secp256k1'), jsonish), x: fc.oneof(b64url43, jsonish), y: fc.oneof(b64url43, jsonish) }, { requiredKeys: [] }),
    fc.record({ kty: fc.constant('EC'), crv: fc.constant('P-256'), x: b64url43, y: b64url43, d: fc.oneof(b64url43, jsonish) }),
    fc.dictionary(fc.string({ maxLength: 5 }), jsonish, { maxKeys: 5 }),
  ),
});

export async function phonePassTargets(closer: Closer): Promise<AnyFuzzTarget[]> {
  const f = fixture();
  // A hub directory with one worker and one link that stays open: no generated key may use it.
  const dir = scratchDir('safegate-fuzz-links-');
  const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
  closer.add(async () => {
    await directory.close();
    dir.remove();
  });
  await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' }, NOW_MS);
  await directory.addSite({ id: 'site-a', orgId: 'ORG-A' });
  await directory.uploadWorkers('ORG-A', [{ line: 2, workerId: 'W1', fullName: 'Trần Thị Mai', team: 'Tổ 1', birthYear: null, sex: null, idNumber: null, phone: null, residence: null, siteId: null, testResult: null, testedAtMs: null, vaccineDoses: 2 }], { nowMs: NOW_MS });
  const links = new PhoneLinks({ sql: directory.sql, phonePassKey: createPrivateKey(generateSigningKeyPair('EdDSA').privatePem), now: () => NOW_MS });
  const [open] = await links.make({ orgId: 'ORG-A', workerIds: ['W1'], madeBy: 'fuzz' });
  return [
    target({
      name: 'phone link use',
      weight: 60,
      smallRuns: 200,
      arbitrary: redeemInput,
      async run(input: { token: unknown; key: unknown }) {
        const token = input.token === 'open' ? open!.token : input.token;
        try {
          const bound = await links.redeem(token as string, input.key);
          // Only a real point on P-256 sent with the open link binds; then the link is spent, as it must be.
          check(token === open!.token, () => `a pass bound with ${show(input)}`);
          check(bound.workerId === 'W1', 'bound to another worker');
          throw new Error(`a generated key bound the link: ${show(input.key)}`);
        } catch (err) {
          if (!(err instanceof PhoneLinkError)) throw err;
          check(err.message.length > 0 && !err.message.includes(open!.token), () => `a refusal without its reason, or naming the token: ${err.message}`);
        }
      },
    }),
    target({
      name: 'phone code reader',
      weight: 120,
      smallRuns: 400,
      arbitrary: phoneInput,
      run(input: PhoneInput) {
        switch (input.mode) {
          case 'string': {
            const result = checkPhonePass(input.text, f.ring, NOW_MS, DEFAULT_RULES);
            checkShape(input.text, result);
            check(!result.ok, () => `made-up text admitted: ${show(input.text, 80)}`);
            return;
          }
          case 'structure': {
            const text = PHONE_PASS_PREFIX + base45Encode(new Uint8Array(encodeCbor(input.items)));
            const result = checkPhonePass(text, f.ring, NOW_MS, DEFAULT_RULES);
            checkShape(text, result);
            check(!result.ok, () => `a made-up structure admitted: ${show(input.items)}`);
            return;
          }
          case 'proof': {
            const pass = input.pass === 'bound' ? f.bound : f.byPrintedKey;
            const text = provePhonePass(pass, input.signer === 'phone' ? f.phone : f.thief, NOW_MS + input.offsetS * 1000);
            const r = input.rules;
            const result = checkPhonePass(text, f.ring, NOW_MS, r);
            checkShape(text, result);
            const ageS = -input.offsetS;
            const judged = r.kioskClockSynced || r.unverifiedKioskClock === 'check';
            let expected: string;
            if (input.pass !== 'bound') expected = 'UNKNOWN_KEY';
            else if (input.signer !== 'phone') expected = 'BAD_SIGNATURE';
            else if (!judged) expected = r.unverifiedKioskClock === 'deny' ? 'CLOCK_UNVERIFIED' : 'ok';
            // The proof time is whole seconds: an offset of exactly the limit is still inside it.
            else if (ageS > r.maxProofAgeSeconds) expected = 'PASS_STALE';
            else if (-ageS > r.phoneClockSkewSeconds) expected = 'PHONE_CLOCK_AHEAD';
            else expected = 'ok';
            check((result.ok ? 'ok' : result.failure) === expected, () => `${show(input)} read as ${show(result)}, expected ${expected}`);
            if (result.ok) check(result.proofAgeUnchecked === !judged, 'proofAgeUnchecked does not say whether the age was judged');
            return;
          }
          case 'edited': {
            const original = provePhonePass(f.bound, f.phone, NOW_MS + input.offsetS * 1000);
            const bytes = edit(base45Decode(original.slice(PHONE_PASS_PREFIX.length)), input.edits);
            const text = PHONE_PASS_PREFIX + base45Encode(bytes);
            const result = checkPhonePass(text, f.ring, NOW_MS, DEFAULT_RULES);
            checkShape(text, result);
            if (result.ok) {
              // Only an edit that leaves the pass, the time and the signature as the phone made them gets in.
              const was = decodePhoneCode(original);
              const now = decodePhoneCode(text);
              check(sameBytes(was.pass, now.pass) && was.t === now.t && sameBytes(was.signature, now.signature), () => `an edited code admitted: ${show(input.edits)}`);
            }
            return;
          }
        }
      },
    }),
  ];
}
