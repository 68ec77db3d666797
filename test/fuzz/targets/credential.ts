import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { inflateSync, type ZlibOptions } from 'node:zlib';
import { decode as base45Decode, encode as base45Encode } from '@digitalbazaar/base45';
import { decode as cborDecode, encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import { IDENTIFIER_PATTERN } from '../../../base/common/ids.js';
import { defaultPolicy } from '../../../base/common/policy/policy.js';
import { DENY_REASON_CODES } from '../../../base/common/reasons.js';
import type { WorkerRecord } from '../../../base/common/types.js';
import { encodeCbor, signCoseSign1 } from '../../../base/node/cose.js';
import { sealEnvelope } from '../../../base/node/envelope.js';
import { HubKeyring, generateSigningKeyPair, keyIdOf, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { silentLogger } from '../../../base/node/logger.js';
import { PASS_PREFIX, issuePass } from '../../../base/node/pass.js';
import { PHONE_PASS_PREFIX, type PhonePassFailure } from '../../../base/node/phone-pass.js';
import { readCredential, type CredentialReading } from '../../../src-main/core/credential/read.js';
import { Gatekeeper, type Passage } from '../../../src-main/core/gatekeeper.js';
import { openStore } from '../../../src-main/core/store/database.js';
import { EventLog } from '../../../src-main/core/store/event-log.js';
import { HeldSpool } from '../../../src-main/core/store/held-spool.js';
import { Roster } from '../../../src-main/core/store/roster.js';
import type { GateActuator } from '../../../device/gpio/gate-signals.js';
import { check, scratchDir, show, target, type AnyFuzzTarget, type Closer } from '../harness.js';
import { deeplyNested } from './batch.js';

export const PASS_FAILURES: readonly PhonePassFailure[] = [
  'MALFORMED_CODE',
  'UNKNOWN_KEY',
  'BAD_SIGNATURE',
  'PASS_EXPIRED',
  'PASS_NOT_YET_VALID',
  'PASS_REVOKED',
  'PASS_STALE',
  'PHONE_CLOCK_AHEAD',
  'CLOCK_UNVERIFIED',
];
const BASE45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The credential target checks passes at one fixed instant, so every run of a seed is the same. */
export const NOW_MS = Date.parse('2026-06-01T08:00:00Z');
const NOW_S = Math.floor(NOW_MS / 1000);
const CLOCK_SKEW_S = 300;
const CLAIM = { iss: 1, sub: 2, exp: 4, nbf: 5, iat: 6, cti: 7 } as const;
/** The pass id (cti) the keyring's revocation list holds. */
export const REVOKED_CTI = new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
const REVOKED_ID = Buffer.from(REVOKED_CTI).toString('hex');

type Expectation = { status: 'valid'; workerId: string } | { status: 'invalid'; failure?: PhonePassFailure };

/** The hub's keys as the fuzzers use them: two trusted pass keys, a downlink key, and one nobody trusts. */
export interface Keys {
  pass: GeneratedKeyPair;
  passEs256: GeneratedKeyPair;
  downlink: GeneratedKeyPair;
  stranger: GeneratedKeyPair;
  private: { pass: KeyObject; passEs256: KeyObject; downlink: KeyObject; stranger: KeyObject; strangerEs256: KeyObject };
  ring: HubKeyring;
}

export function makeKeys(): Keys {
  const pass = generateSigningKeyPair('EdDSA');
  const passEs256 = generateSigningKeyPair('ES256');
  const downlink = generateSigningKeyPair('EdDSA');
  const stranger = generateSigningKeyPair('EdDSA');
  const ring = new HubKeyring();
  ring.add(createPublicKey(pass.publicPem), { role: 'pass', source: 'fuzz' });
  ring.add(createPublicKey(passEs256.publicPem), { role: 'pass', source: 'fuzz' });
  ring.add(createPublicKey(downlink.publicPem), { role: 'downlink', source: 'fuzz' });
  const priv = (p: GeneratedKeyPair) => createPrivateKey(p.privatePem);
  return {
    pass,
    passEs256,
    downlink,
    stranger,
    private: { pass: priv(pass), passEs256: priv(passEs256), downlink: priv(downlink), stranger: priv(stranger), strangerEs256: priv(generateSigningKeyPair('ES256')) },
    ring,
  };
}

/** Passes the hub really issued, each with what a kiosk must make of it at NOW_MS. */
interface IssuedPass {
  label: string;
  text: string;
  expect: Expectation;
}

function issuedPasses(keys: Keys, nowMs: number): IssuedPass[] {
  const at = (ms: number) => new Date(nowMs + ms);
  const p = (label: string, key: KeyObject, workerId: string, o: { issued?: number; expires?: number; notBefore?: number }, expect: Expectation): IssuedPass => ({
    label,
    text: issuePass(key, {
      workerId,
      issuer: 'fuzz-hub',
      issuedAt: at(o.issued ?? -HOUR),
      expiresAt: at(o.expires ?? 30 * DAY),
      ...(o.notBefore !== undefined ? { notBefore: at(o.notBefore) } : {}),
    }),
    expect,
  });
  return [
    p('valid', keys.private.pass, 'W1', {}, { status: 'valid', workerId: 'W1' }),
    p('valid ES256', keys.private.passEs256, 'W2', {}, { status: 'valid', workerId: 'W2' }),
    p('valid F0 worker', keys.private.pass, 'W3', {}, { status: 'valid', workerId: 'W3' }),
    p('valid, not on the roster', keys.private.pass, 'NOBODY-9', {}, { status: 'valid', workerId: 'NOBODY-9' }),
    p('expired', keys.private.pass, 'W1', { issued: -40 * DAY, expires: -DAY }, { status: 'invalid', failure: 'PASS_EXPIRED' }),
    p('not yet valid', keys.private.pass, 'W1', { notBefore: DAY }, { status: 'invalid', failure: 'PASS_NOT_YET_VALID' }),
    p('untrusted key', keys.private.stranger, 'W1', {}, { status: 'invalid', failure: 'UNKNOWN_KEY' }),
    p('downlink key signing a pass', keys.private.downlink, 'W1', {}, { status: 'invalid', failure: 'UNKNOWN_KEY' }),
  ];
}

// ---- generators ----------------------------------------------------------------------------------

/** Anything a scanner can send as one line, and some it cannot. */
const scannedString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z0-9._-]{1,70}$/),
  fc.string({ unit: fc.constantFrom(...BASE45), maxLength: 120 }).map((s) => PASS_PREFIX + s),
  fc.string({ unit: 'binary', maxLength: 80 }).map((s) => PASS_PREFIX + s),
  fc.constantFrom('', 'SG1:', 'SG1', 'sg1:abc', 'SG1:00', 'SG1:0', 'SG1: ', '\u0000', 'W1', 'W1 ', ' W1', 'HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEPWK G2EP4J0B3KL6QM5/OVGA/MAT%ZSW*LP+1A:5TR0'),
);

const claimValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: NOW_S - 400 * 86_400, max: NOW_S + 400 * 86_400 }),
  fc.constantFrom(NOW_S, NOW_S + 1, NOW_S - 1, NOW_S + CLOCK_SKEW_S, NOW_S + CLOCK_SKEW_S + 1, 0, -1, 1, 2 ** 53 - 1, 2 ** 53, 2 ** 64, -(2 ** 63), 1.5, Number.NaN, Infinity),
  fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
  fc.string({ maxLength: 140 }),
  fc.stringMatching(/^[A-Za-z0-9._-]{1,66}$/),
  fc.uint8Array({ maxLength: 40 }),
  fc.constant(REVOKED_CTI),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.constant(new Map([[1, 'x']])),
);

/**
 * A claims map: the claims a hub issues, then some replaced by any value, removed, or joined by keys
 * nobody asked for.
 */
const claimsMap: fc.Arbitrary<Map<unknown, unknown>> = fc
  .tuple(
    fc.record({
      iss: fc.constantFrom('fuzz-hub', 'h'),
      sub: fc.constantFrom('W1', 'W2', 'W3', 'NOBODY-9'),
      exp: fc.oneof(fc.integer({ min: NOW_S - 10, max: NOW_S + 90 * 86_400 }), fc.constant(NOW_S)),
      iat: fc.integer({ min: NOW_S - 90 * 86_400, max: NOW_S + 2 * CLOCK_SKEW_S }),
      cti: fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ minLength: 8, maxLength: 8 }) }, fc.constant(REVOKED_CTI)),
    }),
    fc.array(fc.tuple(fc.constantFrom(...Object.values(CLAIM)), fc.option(claimValue, { nil: undefined, freq: 4 }), fc.boolean()), { maxLength: 3 }),
    fc.array(fc.tuple(fc.oneof(fc.integer({ min: -30, max: 300 }), fc.string({ maxLength: 4 })), claimValue), { maxLength: 2 }),
  )
  .map(([issued, changes, extra]) => {
    const m = new Map<unknown, unknown>(Object.entries(issued).map(([k, v]) => [CLAIM[k as keyof typeof CLAIM], v]));
    for (const [k, v, remove] of changes) {
      if (remove) m.delete(k);
      else m.set(k, v);
    }
    for (const [k, v] of extra) if (!m.has(k)) m.set(k, v);
    return m;
  });

/** Arbitrary CBOR-encodable values (what a hostile issuer might seal in an envelope). */
const cborValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
    fc.string({ maxLength: 20 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.array(fc.tuple(fc.oneof(fc.integer({ min: -10, max: 10 }), fc.string({ maxLength: 5 })), tie('value')), { maxLength: 5 }).map((e) => new Map(e)),
  ),
})).value;

/** CBOR bytes to seal as they are (e.g. nested deeper than any decoder's stack). */
class RawCbor {
  constructor(readonly bytes: Uint8Array) {}
}

type Signer = 'pass' | 'passEs256' | 'downlink' | 'stranger';
const signer = fc.constantFrom<Signer>('pass', 'pass', 'passEs256', 'downlink', 'stranger');

type Mutation = { op: 'flip' | 'insert'; at: number; char: string } | { op: 'delete' | 'truncate'; at: number } | { op: 'append'; text: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // Base45 after the end: as bytes, they follow the zlib stream.
  fc.record({ op: fc.constant('append' as const), text: fc.string({ unit: fc.constantFrom(...BASE45), minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constantFrom('flip' as const, 'insert' as const), at: fc.nat(), char: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...BASE45) }, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) }),
  fc.record({ op: fc.constantFrom('delete' as const, 'truncate' as const), at: fc.nat() }),
);

function mutate(text: string, mutations: Mutation[], fromEnd: boolean): string {
  let t = text;
  for (const m of mutations) {
    // Positions count from the start or (to reach the zlib trailer and the signature) from the end.
    if (m.op === 'append') {
      t += m.text;
      continue;
    }
    const at = fromEnd ? t.length - (m.at % (t.length + 1)) : m.at % (t.length + 1);
    if (m.op === 'flip') t = t.slice(0, at) + m.char + t.slice(at + 1);
    else if (m.op === 'insert') t = t.slice(0, at) + m.char + t.slice(at);
    else if (m.op === 'delete') t = t.slice(0, at) + t.slice(at + 1);
    else t = t.slice(0, at);
  }
  return t;
}

type ByteEdit = { op: 'flip' | 'insert' | 'delete' | 'truncate' | 'append'; at: number; byte: number };
const byteEdit: fc.Arbitrary<ByteEdit> = fc.record({
  op: fc.constantFrom('flip' as const, 'insert' as const, 'delete' as const, 'truncate' as const, 'append' as const),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
});

function editBytes(original: Uint8Array, edits: ByteEdit[]): Uint8Array {
  let b = [...original];
  for (const e of edits) {
    // Positions near the ends matter most (zlib header, checksum, signature): half count from the end.
    const at = e.at % 2 ? b.length - (e.at >> 1) % (b.length + 1) : (e.at >> 1) % (b.length + 1);
    if (e.op === 'flip' && at < b.length) b[at] = b[at]! ^ (e.byte || 1);
    else if (e.op === 'insert') b.splice(at, 0, e.byte);
    else if (e.op === 'delete') b.splice(at, 1);
    else if (e.op === 'truncate') b = b.slice(0, at);
    else if (e.op === 'append') b.push(e.byte);
  }
  return new Uint8Array(b);
}

/**
 * What a changed pass text must read as. It is still the pass only if it carries exactly the signed
 * COSE message the hub issued and nothing else: the same zlib stream content with no bytes after the
 * stream (docs/worker-pass.md: strict decoding), or the same message uncompressed. Anything else is
 * refused (which failure depends on what broke).
 */
function expectMutated(text: string, issued: IssuedPass): Expectation | undefined {
  if (text === issued.text) return issued.expect;
  if (!text.startsWith(PASS_PREFIX)) return undefined;
  const original = inflateSync(base45Decode(issued.text.slice(PASS_PREFIX.length)));
  let bytes: Uint8Array;
  try {
    bytes = base45Decode(text.slice(PASS_PREFIX.length));
  } catch {
    return { status: 'invalid', failure: 'MALFORMED_CODE' };
  }
  let cose: Uint8Array = bytes;
  if (bytes.length >= 2 && bytes[0] === 0x78 && ((bytes[0] << 8) | bytes[1]!) % 31 === 0) {
    try {
      const r = inflateSync(bytes, { info: true } as ZlibOptions) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      if (r.engine.bytesWritten !== bytes.length) return { status: 'invalid', failure: 'MALFORMED_CODE' };
      cose = r.buffer;
    } catch {
      return { status: 'invalid', failure: 'MALFORMED_CODE' };
    }
  }
  return Buffer.from(cose).equals(original) ? issued.expect : { status: 'invalid' };
}

/** One scanned text, as built from a generated recipe, with the expected reading when one is known. */
export type CredentialInput =
  | { mode: 'string'; text: string }
  | { mode: 'mutated'; pass: number; mutations: Mutation[]; fromEnd: boolean }
  | { mode: 'mutated-bytes'; pass: number; edits: ByteEdit[] }
  | { mode: 'claims'; signer: Signer; claims: Map<unknown, unknown>; compress: boolean }
  | { mode: 'sealed'; value: unknown; compress: boolean; tagged: boolean }
  | {
      mode: 'cose';
      signer: Signer;
      alg: unknown;
      kidIn: 'protected' | 'unprotected' | 'none' | 'random';
      payload: Map<unknown, unknown> | Uint8Array;
      signature: 'good' | 'random' | 'empty' | 'other-key';
      extraProtected: [number, unknown][];
      tagged: boolean;
    };

export const credentialInput: fc.Arbitrary<CredentialInput> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ mode: fc.constant('string' as const), text: scannedString }) },
  { weight: 3, arbitrary: fc.record({ mode: fc.constant('mutated-bytes' as const), pass: fc.nat({ max: 7 }), edits: fc.array(byteEdit, { minLength: 1, maxLength: 3 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      mode: fc.constant('mutated' as const),
      pass: fc.nat({ max: 7 }),
      mutations: fc.array(mutation, { minLength: 0, maxLength: 3 }),
      fromEnd: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ mode: fc.constant('claims' as const), signer, claims: claimsMap, compress: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ mode: fc.constant('sealed' as const), value: fc.oneof({ weight: 5, arbitrary: cborValue }, fc.integer({ min: 1, max: 20_000 }).map((n) => new RawCbor(deeplyNested(n)))), compress: fc.boolean(), tagged: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      mode: fc.constant('cose' as const),
      signer,
      alg: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(-8, -7) }, cborValue),
      kidIn: fc.constantFrom('protected' as const, 'unprotected' as const, 'none' as const, 'random' as const),
      payload: fc.oneof(claimsMap, fc.uint8Array({ maxLength: 30 }), fc.integer({ min: 1, max: 30_000 }).map((n) => deeplyNested(n))),
      signature: fc.constantFrom('good' as const, 'random' as const, 'empty' as const, 'other-key' as const),
      extraProtected: fc.array(fc.tuple(fc.integer({ min: -5, max: 40 }), cborValue), { maxLength: 2 }),
      tagged: fc.boolean(),
    }),
  },
);

// ---- the oracle ----------------------------------------------------------------------------------

const safePositive = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
/** A time claim: seconds since 1970, up to the end of year 9999 (docs/worker-pass.md). */
const timeClaim = (v: unknown): v is number => safePositive(v) && v <= 253_402_300_799;

/** What docs/worker-pass.md says a pass signed by a trusted pass key with these claims is. */
function expectClaims(map: Map<unknown, unknown>): Expectation {
  // The kiosk refuses CBOR `undefined` anywhere.
  if (hasUndefined(map)) return { status: 'invalid', failure: 'MALFORMED_CODE' };
  // The claims as the kiosk will see them after CBOR (e.g. a small bigint arrives as a number).
  const seen = cborDecode(cborEncode(map), { useMaps: true }) as Map<unknown, unknown>;
  const [iss, sub, exp, nbf, iat, cti] = [CLAIM.iss, CLAIM.sub, CLAIM.exp, CLAIM.nbf, CLAIM.iat, CLAIM.cti].map((k) => seen.get(k));
  const passId = cti instanceof Uint8Array ? Buffer.from(cti).toString('hex') : undefined;
  const wellFormed =
    typeof iss === 'string' && iss.length >= 1 && iss.length <= 128 &&
    typeof sub === 'string' && IDENTIFIER_PATTERN.test(sub) &&
    timeClaim(exp) && timeClaim(iat) && (nbf === undefined || timeClaim(nbf)) &&
    (passId === undefined || passId.length <= 64);
  if (!wellFormed) return { status: 'invalid', failure: 'MALFORMED_CODE' };
  if (exp <= NOW_S) return { status: 'invalid', failure: 'PASS_EXPIRED' };
  if (Math.max(nbf ?? 0, iat) > NOW_S + CLOCK_SKEW_S) return { status: 'invalid', failure: 'PASS_NOT_YET_VALID' };
  if (passId === REVOKED_ID) return { status: 'invalid', failure: 'PASS_REVOKED' };
  return { status: 'valid', workerId: sub };
}

function hasUndefined(v: unknown): boolean {
  if (v === undefined) return true;
  if (Array.isArray(v)) return v.some(hasUndefined);
  if (v instanceof Map) return [...v.entries()].some(([k, x]) => hasUndefined(k) || hasUndefined(x));
  return false;
}

export class CredentialFixture {
  readonly passes: IssuedPass[];
  readonly badgePattern = new RegExp(IDENTIFIER_PATTERN.source);
  constructor(
    readonly keys: Keys,
    readonly nowMs: number,
  ) {
    this.passes = issuedPasses(keys, nowMs);
  }

  isRevoked = (passId: string): boolean => passId === REVOKED_ID;

  /** The text to scan and, where the recipe fixes it, what the reading must be. */
  build(input: CredentialInput): { text: string; expect?: Expectation } {
    const keys = this.keys;
    switch (input.mode) {
      case 'string':
        // No text a scanner can make up carries a trusted signature.
        return { text: input.text, ...(input.text.startsWith(PASS_PREFIX) ? { expect: { status: 'invalid' as const } } : {}) };
      case 'mutated': {
        const issued = this.passes[input.pass % this.passes.length]!;
        const text = mutate(issued.text, input.mutations, input.fromEnd);
        return { text, expect: expectMutated(text, issued) };
      }
      case 'mutated-bytes': {
        const issued = this.passes[input.pass % this.passes.length]!;
        const text = PASS_PREFIX + base45Encode(editBytes(base45Decode(issued.text.slice(PASS_PREFIX.length)), input.edits));
        return { text, expect: expectMutated(text, issued) };
      }
      case 'claims': {
        const payload = cborEncode(input.claims);
        const key = keys.private[input.signer];
        const cose = signCoseSign1(payload, key, keyIdOf(key));
        const text = input.compress ? sealEnvelope(cose, PASS_PREFIX) : PASS_PREFIX + base45Encode(cose);
        const trusted = input.signer === 'pass' || input.signer === 'passEs256';
        return { text, expect: trusted ? expectClaims(input.claims) : { status: 'invalid', failure: 'UNKNOWN_KEY' } };
      }
      case 'sealed': {
        let bytes = input.value instanceof RawCbor ? input.value.bytes : encodeCbor(input.value);
        if (input.tagged) bytes = new Uint8Array([0xd2, ...bytes]);
        const text = input.compress ? sealEnvelope(bytes, PASS_PREFIX) : PASS_PREFIX + base45Encode(bytes);
        return { text, expect: { status: 'invalid' } };
      }
      case 'cose': {
        const key = keys.private[input.signer];
        const kid = keyIdOf(key);
        const algSeen = hasUndefined(input.alg) ? undefined : cborDecode(cborEncode(input.alg), { useMaps: true });
        const protectedMap = new Map<unknown, unknown>(input.extraProtected.filter(([k]) => k !== 1 && k !== 4));
        protectedMap.set(1, input.alg);
        if (input.kidIn === 'protected') protectedMap.set(4, kid);
        if (input.kidIn === 'random') protectedMap.set(4, new Uint8Array([1, 2, 3]));
        const protectedBytes = cborEncode(protectedMap);
        const unprotected = new Map<unknown, unknown>(input.kidIn === 'unprotected' ? [[4, kid]] : []);
        const payload = input.payload instanceof Uint8Array ? input.payload : cborEncode(input.payload);
        const toSign = cborEncode(['Signature1', protectedBytes, new Uint8Array(0), payload]);
        const es256 = input.signer === 'passEs256';
        const signWith = (k: KeyObject) => new Uint8Array(es256 ? sign('sha256', toSign, { key: k, dsaEncoding: 'ieee-p1363' }) : sign(null, toSign, k));
        const signature =
          input.signature === 'good' ? signWith(key) : input.signature === 'other-key' ? signWith(es256 ? keys.private.strangerEs256 : keys.private.stranger) : input.signature === 'random' ? new Uint8Array(64).fill(7) : new Uint8Array(0);
        let bytes = cborEncode([protectedBytes, unprotected, payload, signature]);
        if (input.tagged) bytes = new Uint8Array([0xd2, ...bytes]);
        const text = sealEnvelope(bytes, PASS_PREFIX);
        const trusted = input.signer === 'pass' || input.signer === 'passEs256';
        const rightAlg = algSeen === (es256 ? -7 : -8);
        const kidFound = input.kidIn === 'protected' || input.kidIn === 'unprotected';
        const structured = typeof algSeen === 'number' && !input.extraProtected.some(([, v]) => hasUndefined(v));
        let expect: Expectation = { status: 'invalid' };
        if (structured && kidFound && !trusted) expect = { status: 'invalid', failure: 'UNKNOWN_KEY' };
        else if (structured && kidFound && trusted && (!rightAlg || input.signature !== 'good')) expect = { status: 'invalid', failure: 'BAD_SIGNATURE' };
        else if (structured && kidFound && trusted && input.payload instanceof Map && !hasUndefined(input.payload)) expect = expectClaims(input.payload);
        else if (structured && kidFound && trusted && input.payload instanceof Uint8Array) expect = { status: 'invalid', failure: 'MALFORMED_CODE' };
        return { text, expect };
      }
    }
  }

  /** Reads the text, checks the reading's shape, and compares it with the expectation when there is one. */
  read(text: string, expect: Expectation | undefined, nowMs = this.nowMs): CredentialReading {
    const reading = readCredential(text, nowMs, { keyring: this.keys.ring, badgePattern: this.badgePattern, isRevoked: this.isRevoked });
    checkReading(text, reading, this.badgePattern);
    if (expect) {
      check(reading.status === expect.status, () => `read as ${show(reading)}, expected ${show(expect)} for ${show(text, 120)}`);
      if (expect.status === 'valid' && reading.status === 'valid') check(reading.workerId === expect.workerId, () => `worker ${reading.workerId}, expected ${expect.workerId}`);
      if (expect.status === 'invalid' && expect.failure && reading.status === 'invalid') {
        check(reading.failure === expect.failure, () => `refused with ${reading.failure} (${reading.detail}), expected ${expect.failure}`);
      }
    }
    return reading;
  }
}

/** What every reading must look like, whatever was scanned. */
export function checkReading(text: string, reading: CredentialReading, badgePattern: RegExp): void {
  if (reading.status === 'valid') {
    if (reading.kind === 'badge') {
      check(!text.startsWith(PASS_PREFIX) && badgePattern.test(text) && reading.workerId === text, () => `badge reading for ${show(text, 80)}`);
    } else {
      check(reading.kind === 'pass' && (text.startsWith(PASS_PREFIX) || text.startsWith(PHONE_PASS_PREFIX)), () => `pass reading for ${show(text, 80)}`);
      check(IDENTIFIER_PATTERN.test(reading.workerId), () => `a valid pass names worker ${show(reading.workerId)}`);
    }
  } else {
    check(reading.status === 'invalid', () => `reading with status ${show(reading)}`);
    check(PASS_FAILURES.includes(reading.failure), () => `failure ${show(reading.failure)} is not a PassFailure`);
    check(typeof reading.detail === 'string' && reading.detail.length > 0, 'a refusal without its reason');
    const signed = text.startsWith(PASS_PREFIX) || text.startsWith(PHONE_PASS_PREFIX);
    check(reading.kind === (signed ? 'pass' : 'unknown'), () => `kind ${reading.kind} for ${show(text, 40)}`);
    if (!signed) check(!badgePattern.test(text) && reading.failure === 'MALFORMED_CODE', () => `badge-like text refused: ${show(text, 40)}`);
  }
}

// ---- the gate ------------------------------------------------------------------------------------

class CountingActuator implements GateActuator {
  admits = 0;
  refusals = 0;
  repeats = 0;
  admit(): void {
    this.admits++;
  }
  refuse(): void {
    this.refusals++;
  }
  seeDriver(): void {
    this.refusals++;
  }
  acknowledgeRepeat(): void {
    this.repeats++;
  }
  holdOpen(): void {}
  safeState(): void {}
}

const ROSTER_NOW = Date.now();
const worker = (workerId: string, o: Partial<WorkerRecord> = {}): WorkerRecord => ({
  workerId,
  displayName: `Người lao động ${workerId}`,
  company: 'Công ty',
  team: 'Tổ 1',
  declaredAt: ROSTER_NOW - 2 * HOUR,
  declarationFlagged: false,
  testResult: null,
  testedAt: null,
  vaccineDoses: 2,
  quarantineUntil: null,
  caseStatus: 'none',
  ...o,
});

export function credentialTargets(keys: Keys, closer: Closer): AnyFuzzTarget[] {
  const fixture = new CredentialFixture(keys, NOW_MS);

  // The gate as src-main/app/kiosk.ts wires it, with an in-memory actuator and a real SQLite store.
  const dir = scratchDir('safegate-fuzz-gate-');
  const db = openStore(join(dir.path, 'kiosk.db'));
  closer.add(() => {
    db.close();
    dir.remove();
  });
  const events = new EventLog(db);
  const roster = new Roster(db);
  roster.upsertAll([worker('W1'), worker('W2', { quarantineUntil: ROSTER_NOW + 30 * DAY }), worker('W3', { caseStatus: 'F0' }), worker('B-100')]);
  const actuator = new CountingActuator();
  let mono = 1_000_000;
  const policy = defaultPolicy();
  const gatekeeper = new Gatekeeper({
    checkpoint: { id: 'gate-a', name: 'Cổng A', kind: 'zone', zone: 'factory-1', direction: 'both' },
    events,
    roster,
    keyring: keys.ring,
    policy: () => policy,
    clock: { read: () => ({ wallMs: Date.now(), monoUs: (mono += 1000), bootId: 'fuzz-boot', synced: true }) },
    actuator,
    badgePattern: fixture.badgePattern,
    codeHashKey: 'fuzz-code-hash-key',
    log: silentLogger,
    isRevoked: fixture.isRevoked,
    held: new HeldSpool({ file: join(dir.path, 'run', 'held.jsonl'), dir: join(dir.path, 'run'), db, events, log: silentLogger }),
  });
  closer.add(() => {
    gatekeeper.stop();
  });
  // Passes valid now for the gate's real clock (the credential target's passes are for NOW_MS).
  const gateFixture = new CredentialFixture(keys, Date.now());

  return [
    target({
      name: 'credential reader',
      weight: 220,
      smallRuns: 800,
      arbitrary: credentialInput,
      run(input: CredentialInput) {
        const { text, expect } = fixture.build(input);
        fixture.read(text, expect);
      },
    }),
    target({
      name: 'gate scans',
      weight: 50,
      smallRuns: 300,
      arbitrary: fc.record({ scan: credentialInput, source: fc.constantFrom('serial' as const, 'camera' as const, 'keyboard' as const, 'stdin' as const) }),
      run({ scan, source }) {
        const { text } = gateFixture.build(scan);
        const before = { ...actuator };
        const passage: Passage = gatekeeper.handleScan({ text, source, receivedAtNs: process.hrtime.bigint() });
        const d = passage.decision;
        check(['allow', 'deny', 'repeat'].includes(d.outcome), () => `outcome ${show(d)}`);
        check(d.direction === 'entry' || d.direction === 'exit', () => `direction ${show(d.direction)}`);
        const moved = { admits: actuator.admits - before.admits, refusals: actuator.refusals - before.refusals, repeats: actuator.repeats - before.repeats };
        if (d.outcome === 'deny') {
          check(d.reasons.length >= 1 && d.reasons.every((r) => DENY_REASON_CODES.includes(r)), () => `a deny without a known reason: ${show(d)}`);
          check(moved.refusals === 1 && moved.admits === 0 && moved.repeats === 0, () => `deny drove the gate ${show(moved)}`);
        } else if (d.outcome === 'allow') {
          // The gate opens only for a credential that reads as valid now, of someone on the roster.
          const reading = readCredential(text, Date.now(), { keyring: keys.ring, badgePattern: fixture.badgePattern, isRevoked: fixture.isRevoked });
          check(reading.status === 'valid' && roster.get(reading.workerId) !== undefined, () => `allowed ${show(text, 80)} read as ${show(reading)}`);
          check(passage.credentialAccepted, 'allowed without an accepted credential');
          check(moved.admits === 1 && moved.refusals === 0 && moved.repeats === 0, () => `allow drove the gate ${show(moved)}`);
        } else {
          check(moved.repeats === 1 && moved.admits === 0 && moved.refusals === 0, () => `repeat drove the gate ${show(moved)}`);
        }
        if (d.outcome !== 'repeat') {
          check(passage.seq !== null && passage.durable, () => `a decision not stored: ${show(passage.seq)}`);
          const stored = events.get(passage.seq);
          check(stored?.decision === d.outcome && JSON.stringify(stored.reasons) === JSON.stringify(d.reasons), () => `stored ${show(stored)} for ${show(d)}`);
          check(stored.workerId !== null || (stored.codeHash !== null && /^[0-9a-f]{32}$/.test(stored.codeHash)), 'an event with neither a worker nor a code hash');
        }
        check(gatekeeper.heldCount === 0, 'events held although the store is healthy');
      },
    }),
  ];
}
