import { describe, expect, it } from 'vitest';
import type { CredentialReading } from '../../../src-main/core/credential/read.js';
import { decide, type DecisionInput, type RecentHistory } from '../../../src-main/core/decide.js';
import { defaultPolicy, type Policy } from '../../../base/common/policy/policy.js';
import type { Checkpoint, WorkerRecord } from '../../../base/common/types.js';
import { healthyWorker } from '../../helpers/fixtures.js';

const NOW = Date.parse('2026-11-26T08:00:00Z');
const HOUR = 3_600_000;
const gate: Checkpoint = { id: 'gate-a', name: 'Cổng A', kind: 'gate', zone: 'factory-1', direction: 'entry' };
const pass: CredentialReading = { status: 'valid', kind: 'pass', workerId: 'W1' };
const none: RecentHistory = { sameCodeSecondsAgo: null, lastPassage: null };

function run(over: Partial<DecisionInput> & { worker?: WorkerRecord | undefined } = {}) {
  return decide({
    reading: pass,
    worker: 'worker' in over ? over.worker : healthyWorker('W1', NOW),
    policy: defaultPolicy(),
    checkpoint: gate,
    recent: none,
    nowMs: NOW,
    ...over,
  });
}

function withParams(params: Partial<Policy['params']>): Policy {
  const p = defaultPolicy();
  return { ...p, params: { ...p.params, ...params } };
}

describe('decide', () => {
  it('allows a healthy worker with a valid pass', () => {
    expect(run()).toEqual({ outcome: 'allow', direction: 'entry', reasons: [] });
  });

  it.each([
    ['MALFORMED_CODE'],
    ['UNKNOWN_KEY'],
    ['BAD_SIGNATURE'],
    ['PASS_EXPIRED'],
    ['PASS_NOT_YET_VALID'],
  ] as const)('denies an invalid credential with its own reason (%s)', (failure) => {
    const reading: CredentialReading = { status: 'invalid', kind: 'pass', failure, detail: 'x' };
    expect(run({ reading })).toEqual({ outcome: 'deny', direction: 'entry', reasons: [failure] });
  });

  it('denies an unknown worker', () => {
    expect(run({ worker: undefined })).toMatchObject({ outcome: 'deny', reasons: ['UNKNOWN_WORKER'] });
  });

  it.each([
    ['a confirmed case', { caseStatus: 'F0' }, 'CASE_F0'],
    ['active quarantine', { quarantineUntil: NOW + HOUR }, 'QUARANTINE_ACTIVE'],
    ['no declaration', { declaredAt: null }, 'DECLARATION_MISSING'],
    ['a stale declaration', { declaredAt: NOW - 25 * HOUR }, 'DECLARATION_MISSING'],
    ['a flagged declaration', { declarationFlagged: true }, 'DECLARATION_FLAGGED'],
    ['F1 without a test', { caseStatus: 'F1' }, 'F1_TEST_REQUIRED'],
    ['F1 with an old negative test', { caseStatus: 'F1', testResult: 'negative', testedAt: NOW - 73 * HOUR }, 'F1_TEST_REQUIRED'],
    ['F1 with a recent positive test', { caseStatus: 'F1', testResult: 'positive', testedAt: NOW - HOUR }, 'F1_TEST_REQUIRED'],
    ['too few vaccine doses', { vaccineDoses: 1 }, 'VACCINATION_INSUFFICIENT'],
  ] as const)('denies %s', (_name, overrides, reason) => {
    expect(run({ worker: healthyWorker('W1', NOW, overrides) })).toEqual({ outcome: 'deny', direction: 'entry', reasons: [reason] });
  });

  it('allows F1 with a recent negative test, and after quarantine ended', () => {
    expect(run({ worker: healthyWorker('W1', NOW, { caseStatus: 'F1', testResult: 'negative', testedAt: NOW - 5 * HOUR }) }).outcome).toBe('allow');
    expect(run({ worker: healthyWorker('W1', NOW, { quarantineUntil: NOW - 1 }) }).outcome).toBe('allow');
  });

  it('gives every failing reason, in policy order', () => {
    const worker = healthyWorker('W1', NOW, { caseStatus: 'F0', declarationFlagged: true, vaccineDoses: 0 });
    expect(run({ worker }).reasons).toEqual(['CASE_F0', 'DECLARATION_FLAGGED', 'VACCINATION_INSUFFICIENT']);
  });

  it('decides a refused badge on that alone, never on the health rules of the worker it names', () => {
    const badge: CredentialReading = { status: 'valid', kind: 'badge', workerId: 'W1' };
    const sick = healthyWorker('W1', NOW, { caseStatus: 'F0', quarantineUntil: NOW + 3 * 24 * HOUR, declarationFlagged: true, vaccineDoses: 0 });
    expect(run({ reading: badge, worker: sick })).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['BADGE_NOT_ACCEPTED'] });
    // Where badges are accepted, the same person's health is what decides.
    expect(run({ reading: badge, worker: sick, checkpoint: { ...gate, kind: 'canteen' } }).reasons).toEqual(['CASE_F0', 'QUARANTINE_ACTIVE', 'DECLARATION_FLAGGED', 'VACCINATION_INSUFFICIENT']);
  });

  it('refuses a badge at a factory gate but accepts it at a canteen', () => {
    const badge: CredentialReading = { status: 'valid', kind: 'badge', workerId: 'W1' };
    expect(run({ reading: badge })).toMatchObject({ outcome: 'deny', reasons: ['BADGE_NOT_ACCEPTED'] });
    expect(run({ reading: badge, checkpoint: { ...gate, kind: 'canteen' } }).outcome).toBe('allow');
  });

  it('lets people leave whatever their health status', () => {
    const worker = healthyWorker('W1', NOW, { caseStatus: 'F0', quarantineUntil: NOW + HOUR, declaredAt: null });
    expect(run({ worker, checkpoint: { ...gate, direction: 'exit' } })).toEqual({ outcome: 'allow', direction: 'exit', reasons: [] });
  });

  describe('anti-passback', () => {
    const inside: RecentHistory = { sameCodeSecondsAgo: null, lastPassage: { direction: 'entry', atMs: NOW - HOUR } };

    it('denies a second entry without an exit', () => {
      expect(run({ recent: inside })).toMatchObject({ outcome: 'deny', reasons: ['ANTI_PASSBACK'] });
    });

    it('allows entry after an exit, after the reset time, or when switched off', () => {
      expect(run({ recent: { ...inside, lastPassage: { direction: 'exit', atMs: NOW - HOUR } } }).outcome).toBe('allow');
      expect(run({ recent: { ...inside, lastPassage: { direction: 'entry', atMs: NOW - 17 * HOUR } } }).outcome).toBe('allow');
      expect(run({ recent: inside, policy: withParams({ antiPassback: 'off' }) }).outcome).toBe('allow');
    });

    it('does not refuse when the checkpoint cannot see exits (an entry-only gate with a stale site stream)', () => {
      expect(run({ recent: { ...inside, exitsUnseen: true } })).toMatchObject({ outcome: 'allow', direction: 'entry', reasons: [] });
      expect(run({ recent: { ...inside, exitsUnseen: false } })).toMatchObject({ outcome: 'deny', reasons: ['ANTI_PASSBACK'] });
    });

    it('on a two-way checkpoint, treats the scan after an entry as the exit', () => {
      const both = { ...gate, direction: 'both' as const };
      expect(run({ checkpoint: both, recent: none })).toMatchObject({ outcome: 'allow', direction: 'entry' });
      expect(run({ checkpoint: both, recent: inside })).toMatchObject({ outcome: 'allow', direction: 'exit' });
    });
  });

  it('treats the same code again within the repeat window as the same event', () => {
    expect(run({ recent: { sameCodeSecondsAgo: 2, lastPassage: null } }).outcome).toBe('repeat');
    expect(run({ recent: { sameCodeSecondsAgo: 6, lastPassage: null } }).outcome).toBe('allow');
    // Even a code that would be denied is one event while it stays under the scanner.
    const reading: CredentialReading = { status: 'invalid', kind: 'unknown', failure: 'MALFORMED_CODE', detail: 'x' };
    expect(run({ reading, recent: { sameCodeSecondsAgo: 1, lastPassage: null } }).outcome).toBe('repeat');
  });

  it('fails closed at a gate on data the hub has not confirmed for too long, open at a canteen', () => {
    const stale = NOW - 73 * HOUR;
    expect(run({ rosterCheckedAtMs: stale })).toMatchObject({ outcome: 'deny', reasons: ['DATA_TOO_OLD'] });
    expect(run({ rosterCheckedAtMs: stale, checkpoint: { ...gate, kind: 'canteen' } }).outcome).toBe('allow');
    expect(run({ rosterCheckedAtMs: NOW - 10 * HOUR }).outcome).toBe('allow');
    // A standalone kiosk (no hub) has no data age.
    expect(run({ rosterCheckedAtMs: null }).outcome).toBe('allow');
  });

  it('follows policy parameters as data', () => {
    const worker = healthyWorker('W1', NOW, { vaccineDoses: 1, declaredAt: NOW - 30 * HOUR });
    const lenient = withParams({ minVaccineDoses: 1, declarationMaxAgeHours: 48 });
    expect(run({ worker, policy: lenient }).outcome).toBe('allow');
  });
});
