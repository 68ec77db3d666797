import { describe, expect, it } from 'vitest';
import type { CredentialReading } from '../../../src-main/core/credential/read.js';
import { decide, type DecisionInput, type RecentHistory } from '../../../src-main/core/decide.js';
import { defaultPolicy, parsePolicy, type Policy } from '../../../base/common/policy/policy.js';
import type { Checkpoint, Placement, WorkerRecord } from '../../../base/common/types.js';
import { passageView } from '../../../src-main/api/screen-service.js';
import { healthyWorker } from '../../helpers/fixtures.js';

const NOW = Date.parse('2026-11-26T08:00:00Z');
const HOUR = 3_600_000;
const gate: Checkpoint = { id: 'gate-a', name: 'Cổng A', kind: 'gate', zone: 'factory-1', direction: 'entry' };
const pass: CredentialReading = { status: 'valid', kind: 'pass', workerId: 'W1' };
const none: RecentHistory = { sameCodeSecondsAgo: null, lastPassage: null };
const atGateA: Placement = { deviceId: 'kiosk-a', checkpointId: 'gate-a', siteId: 'site-a', orgIds: ['org-a'] };
const atSharedGate: Placement = { deviceId: 'kiosk-kcn', checkpointId: 'gate-kcn', siteId: 'kcn', orgIds: ['org-a', 'org-b'] };

const ofOrg = (orgId: string, siteId: string, over: Partial<WorkerRecord> = {}): WorkerRecord => ({ ...healthyWorker('W1', NOW, over), orgId, siteId });

function run(over: Partial<DecisionInput> = {}) {
  return decide({ reading: pass, worker: healthyWorker('W1', NOW), policy: defaultPolicy(), checkpoint: gate, recent: none, nowMs: NOW, ...over });
}

describe('decide: worker.servedHere and worker.atOwnSite', () => {
  it("denies a valid pass of a worker whose organisation this checkpoint does not serve, admits it at a gate that serves it", () => {
    expect(run({ worker: ofOrg('org-b', 'site-b'), placement: atGateA })).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['WORKER_NOT_SERVED'] });
    expect(run({ worker: ofOrg('org-a', 'site-a'), placement: atGateA })).toEqual({ outcome: 'allow', direction: 'entry', reasons: [] });
    expect(run({ worker: ofOrg('org-b', 'site-b'), placement: atSharedGate })).toEqual({ outcome: 'allow', direction: 'entry', reasons: [] });
  });

  it("refuses on that alone: another organisation's gate learns nothing of the worker's health", () => {
    const f0 = ofOrg('org-b', 'site-b', { caseStatus: 'F0', declaredAt: null });
    expect(run({ worker: f0, placement: atGateA }).reasons).toEqual(['WORKER_NOT_SERVED']);
    // At a gate that serves them, the health rules decide as always.
    expect(run({ worker: f0, placement: atSharedGate }).reasons).toEqual(['CASE_F0', 'DECLARATION_MISSING']);
  });

  it('lets the worker out again (the rule holds on entry only)', () => {
    const exit: Checkpoint = { ...gate, direction: 'exit' };
    expect(run({ worker: ofOrg('org-b', 'site-b'), placement: atGateA, checkpoint: exit }).outcome).toBe('allow');
  });

  it('decides exactly as before without a placement, for a worker on no list, or at a device at no checkpoint', () => {
    const workers = [ofOrg('org-b', 'site-b'), ofOrg('org-b', 'site-b', { caseStatus: 'F1' }), healthyWorker('W1', NOW, { declaredAt: NOW - 30 * HOUR }), healthyWorker('W1', NOW)];
    for (const worker of workers) {
      const before = run({ worker });
      expect(run({ worker, placement: null })).toEqual(before);
      expect(run({ worker, placement: { ...atGateA, checkpointId: null, orgIds: [] } })).toEqual(before);
    }
    // A worker of the province list (no organisation) is not refused by the rule at a placed kiosk.
    expect(run({ worker: healthyWorker('W1', NOW), placement: atGateA }).outcome).toBe('allow');
  });

  it('gives a policy the worker.atOwnSite fact (e.g. a canteen for its own site only)', () => {
    const base = defaultPolicy();
    const policy: Policy = parsePolicy({
      ...base,
      rules: [...base.rules, { id: 'own-site-canteen', reason: 'WORKER_NOT_SERVED', directions: ['entry'], logic: { '!==': [{ var: 'worker.atOwnSite' }, false] } }],
    });
    expect(run({ policy, worker: ofOrg('org-a', 'site-a'), placement: atGateA }).outcome).toBe('allow');
    expect(run({ policy, worker: ofOrg('org-a', 'site-2'), placement: atGateA }).reasons).toEqual(['WORKER_NOT_SERVED']);
    expect(run({ policy, worker: ofOrg('org-a', 'site-2') }).outcome).toBe('allow');
  });

  it('shows the refusal as a procedure with its next step, never a health reason', () => {
    const decision = run({ worker: ofOrg('org-b', 'site-b', { caseStatus: 'F0' }), placement: atGateA });
    const timing = { receivedAtNs: 0n, committedAtNs: null, actuatedAtNs: 0n };
    const view = passageView({ seq: 7, decision, displayName: 'Công nhân W1', credentialAccepted: true, durable: true, timing }, { discreet: false, healthGuidance: 'see-guard' }, NOW);
    expect(view).toMatchObject({ kind: 'procedure', reasons: ['WORKER_NOT_SERVED'], guidance: 'use-own-gate' });
  });
});
