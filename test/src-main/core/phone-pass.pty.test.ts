import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import builtInPolicy from '../../../base/common/policy/default-policy.json' with { type: 'json' };
import { defaultPolicy } from '../../../base/common/policy/policy.js';
import { generateSigningKeyPair, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { decodePhoneCode, encodePhoneCode, issuePhonePass, provePhonePass, type PhonePass } from '../../../base/node/phone-pass.js';
import { decide } from '../../../src-main/core/decide.js';
import { passageView } from '../../../src-main/api/screen-service.js';
import type { Checkpoint } from '../../../base/common/types.js';
import { healthyWorker, installKey, passFor } from '../../helpers/fixtures.js';
import { KioskUnderTest } from '../../helpers/kiosk.js';

const DAY = 86_400_000;

/** A phone as the phone page is: a P-256 key pair and the pass the hub bound to it. */
interface Phone {
  key: { privateKey: KeyObject; publicKey: KeyObject };
  pass: PhonePass;
}

function phoneFor(hubKey: GeneratedKeyPair, workerId: string): Phone {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pass = issuePhonePass(hubKey.privatePem, { workerId, issuer: 'test-hub', expiresAt: new Date(Date.now() + 30 * DAY), holderKey: key.publicKey });
  return { key, pass };
}

function code(phone: Phone, atMs = Date.now()): string {
  return provePhonePass(phone.pass.pass, phone.key.privateKey, atMs);
}

describe('phone-bound rotating passes at a kiosk (real serial pty)', () => {
  let k: KioskUnderTest;
  let phoneKey: GeneratedKeyPair;
  afterEach(async () => {
    await k?.stop();
  });

  async function started(policy?: object) {
    k = new KioskUnderTest();
    phoneKey = generateSigningKeyPair('EdDSA');
    installKey(k.keys.keysDir, 'phone-pass', phoneKey);
    let policyFile: string | undefined;
    if (policy) {
      policyFile = join(k.dir.path, 'policy.json');
      writeFileSync(policyFile, JSON.stringify(policy));
    }
    await k.start(policyFile ? { policyFile } : {});
    const now = Date.now();
    k.kiosk.roster.upsertAll(['W1', 'W2', 'W3', 'W4', 'W5', 'W6'].map((id) => healthyWorker(id, now)));
    return k;
  }

  it('admits a fresh code; refuses a replayed old one as PASS_STALE with what to do; refuses another phone and a moved proof', async () => {
    await started();
    const w1 = phoneFor(phoneKey, 'W1');
    const screenshot = code(w1, Date.now() - 61_000);
    const stale = await k.scan(screenshot);
    expect(stale.decision).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['PASS_STALE'] });
    expect(stale.displayName).toBeNull();
    expect(passageView(stale)).toMatchObject({ kind: 'credential', guidance: 'refresh-phone-pass', reasons: ['PASS_STALE'] });

    const fresh = await k.scan(code(w1));
    expect(fresh.decision).toEqual({ outcome: 'allow', direction: 'entry', reasons: [] });
    expect(fresh.displayName).toBe('Người lao động W1');

    const w2 = phoneFor(phoneKey, 'W2');
    const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect((await k.scan(provePhonePass(w2.pass.pass, thief.privateKey, Date.now()))).decision.reasons).toEqual(['BAD_SIGNATURE']);
    const proof = decodePhoneCode(code(w1));
    expect((await k.scan(encodePhoneCode(w2.pass.pass, proof.t, proof.signature))).decision.reasons).toEqual(['BAD_SIGNATURE']);
    expect(k.relayOpenings()).toBe(1);
    const events = [...k.kiosk.events.since(0)];
    expect(events.map((e) => [e.decision, e.reasons])).toEqual([
      ['deny', ['PASS_STALE']],
      ['allow', []],
      ['deny', ['BAD_SIGNATURE']],
      ['deny', ['BAD_SIGNATURE']],
    ]);
    expect(events[1]).toMatchObject({ workerId: 'W1', credentialKind: 'pass' });
  });

  it('a phone clock ahead within the tolerated skew is admitted; beyond it is PHONE_CLOCK_AHEAD', async () => {
    await started();
    expect((await k.scan(code(phoneFor(phoneKey, 'W3'), Date.now() + 20_000))).decision.outcome).toBe('allow');
    const ahead = await k.scan(code(phoneFor(phoneKey, 'W4'), Date.now() + 45_000));
    expect(ahead.decision.reasons).toEqual(['PHONE_CLOCK_AHEAD']);
    expect(passageView(ahead).guidance).toBe('set-phone-time');
  });

  it('the repeat window keys on the pass: a second, different code of the same pass is the same passage', async () => {
    await started();
    const w5 = phoneFor(phoneKey, 'W5');
    const first = code(w5);
    const second = code(w5, Date.now() + 1_000);
    expect(second).not.toBe(first);
    expect((await k.scan(first)).decision.outcome).toBe('allow');
    const again = await k.scan(second);
    // Keyed on the text, this would be a new scan of someone already inside (ANTI_PASSBACK).
    expect(again.decision.outcome).toBe('repeat');
    expect(again.seq).toBeNull();
    expect(k.relayOpenings()).toBe(1);
    expect([...k.kiosk.events.since(0)]).toHaveLength(1);
  });

  it('a gate whose policy requires phone-bound passes refuses a printed one (PHONE_PASS_REQUIRED) and admits the phone', async () => {
    const policy = structuredClone(builtInPolicy) as typeof builtInPolicy;
    policy.params.passes.printedAllowedAt = ['canteen', 'dormitory'];
    await started(policy);
    const printed = await k.scan(passFor(k.keys, 'W6'));
    expect(printed.decision.reasons).toEqual(['PHONE_PASS_REQUIRED']);
    expect(printed.displayName).toBeNull();
    expect(passageView(printed).guidance).toBe('use-qr-pass');
    expect((await k.scan(code(phoneFor(phoneKey, 'W6')))).decision.outcome).toBe('allow');
  });
});

describe('printed passes where the policy allows them', () => {
  const now = Date.parse('2026-11-26T08:00:00Z');
  const canteen: Checkpoint = { id: 'canteen-1', name: 'Nhà ăn', kind: 'canteen', zone: 'factory-1', direction: 'entry' };
  const gate: Checkpoint = { ...canteen, id: 'gate-a', kind: 'gate' };
  const base = defaultPolicy();
  const gatePhoneOnly = { ...base, params: { ...base.params, passes: { ...base.params.passes, printedAllowedAt: ['canteen' as const] } } };
  const input = (checkpoint: Checkpoint, phoneBound: boolean) => ({
    reading: { status: 'valid' as const, kind: 'pass' as const, workerId: 'W1', phoneBound },
    worker: healthyWorker('W1', now),
    policy: gatePhoneOnly,
    checkpoint,
    recent: { sameCodeSecondsAgo: null, lastPassage: null },
    nowMs: now,
  });

  it('the same policy lets a canteen take a printed pass while its gate requires the phone', () => {
    expect(decide(input(canteen, false)).outcome).toBe('allow');
    expect(decide(input(gate, false))).toMatchObject({ outcome: 'deny', reasons: ['PHONE_PASS_REQUIRED'] });
    expect(decide(input(gate, true)).outcome).toBe('allow');
  });

  it('by default printed passes are accepted everywhere, and a policy without the passes section reads with the defaults', () => {
    expect(decide({ ...input(gate, false), policy: base }).outcome).toBe('allow');
    expect(base.params.passes).toEqual({ printedAllowedAt: ['gate', 'zone', 'team', 'canteen', 'dormitory', 'bus'], maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, unverifiedKioskClock: 'check' });
  });
});
