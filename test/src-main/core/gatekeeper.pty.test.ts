import Database from 'better-sqlite3';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCbor, signCoseSign1 } from '../../../base/node/cose.js';
import { sealEnvelope } from '../../../base/node/envelope.js';
import { generateSigningKeyPair, keyIdOf } from '../../../base/node/keys.js';
import { PASS_PREFIX } from '../../../base/node/pass.js';
import { healthyWorker, passFor, waitFor } from '../../helpers/fixtures.js';
import { KioskUnderTest } from '../../helpers/kiosk.js';
import { passageView } from '../../../src-main/api/screen-service.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('gate core through a real serial pty', () => {
  let k: KioskUnderTest;
  afterEach(async () => {
    await k?.stop();
  });

  async function started(options = {}) {
    k = await new KioskUnderTest().start(options);
    const now = Date.now();
    k.kiosk.roster.upsertAll([
      healthyWorker('W-OK', now),
      healthyWorker('W-OK2', now),
      healthyWorker('W-F0', now, { caseStatus: 'F0' }),
      healthyWorker('W-QUAR', now, { quarantineUntil: now + 3 * DAY }),
      healthyWorker('W-NODECL', now, { declaredAt: now - 3 * DAY }),
      healthyWorker('W-FLAG', now, { declarationFlagged: true }),
      healthyWorker('W-F1', now, { caseStatus: 'F1' }),
      healthyWorker('W-VAX', now, { vaccineDoses: 0 }),
    ]);
    return k;
  }

  it('a valid pass is committed, then opens the gate, and the result names the worker', async () => {
    await started();
    const p = await k.scan(passFor(k.keys, 'W-OK'));
    expect(p.decision).toEqual({ outcome: 'allow', direction: 'entry', reasons: [] });
    expect(p.displayName).toBe('Người lao động W-OK');
    expect(p.seq).toBe(1);
    expect(k.relayOpenings()).toBe(1);
    // Write before you act: the commit happened before the relay was driven.
    expect(p.timing.committedAtNs).not.toBeNull();
    const relayOn = k.transitions.find((t) => t.output === 'relay' && t.active)!;
    expect(relayOn.atNs).toBeGreaterThanOrEqual(p.timing.committedAtNs!);
    const [event] = [...k.kiosk.events.since(0)];
    expect(event).toMatchObject({ seq: 1, decision: 'allow', workerId: 'W-OK', credentialKind: 'pass', source: 'serial', clockSynced: true });
  });

  it('produces each deny reason, keeps the gate shut, and logs every attempt', async () => {
    await started();
    const now = Date.now();
    const stranger = generateSigningKeyPair();
    const trustedKid = keyIdOf(createPublicKey(k.keys.publicPem));
    const forgedPayload = encodeCbor(new Map<number, unknown>([[1, 'hub'], [2, 'W-OK'], [4, Math.floor(now / 1000) + 3600], [6, Math.floor(now / 1000)]]));
    const forged = sealEnvelope(signCoseSign1(forgedPayload, createPrivateKey(stranger.privatePem), trustedKid), PASS_PREFIX);
    const cases: [string, string][] = [
      ['SG1:%%%not-base45', 'MALFORMED_CODE'],
      ['{"worker":"W-OK"}', 'MALFORMED_CODE'],
      [passFor(stranger, 'W-OK'), 'UNKNOWN_KEY'],
      [forged, 'BAD_SIGNATURE'],
      [passFor(k.keys, 'W-OK', { expiresInMs: -HOUR, issuedAgoMs: 30 * DAY }), 'PASS_EXPIRED'],
      [passFor(k.keys, 'W-OK', { issuedAgoMs: -2 * DAY }), 'PASS_NOT_YET_VALID'],
      [passFor(k.keys, 'W-NOBODY'), 'UNKNOWN_WORKER'],
      ['W-OK', 'BADGE_NOT_ACCEPTED'],
      [passFor(k.keys, 'W-F0'), 'CASE_F0'],
      [passFor(k.keys, 'W-QUAR'), 'QUARANTINE_ACTIVE'],
      [passFor(k.keys, 'W-NODECL'), 'DECLARATION_MISSING'],
      [passFor(k.keys, 'W-FLAG'), 'DECLARATION_FLAGGED'],
      [passFor(k.keys, 'W-F1'), 'F1_TEST_REQUIRED'],
      [passFor(k.keys, 'W-VAX'), 'VACCINATION_INSUFFICIENT'],
    ];
    for (const [text, reason] of cases) {
      const p = await k.scan(text);
      expect({ reason, decision: p.decision }).toEqual({ reason, decision: { outcome: 'deny', direction: 'entry', reasons: [reason] } });
      expect(p.durable).toBe(true);
    }
    // Anti-passback: in once, then a second entry without an exit (a fresh pass, so not a repeat).
    expect((await k.scan(passFor(k.keys, 'W-OK2'))).decision.outcome).toBe('allow');
    expect((await k.scan(passFor(k.keys, 'W-OK2'))).decision.reasons).toEqual(['ANTI_PASSBACK']);

    expect(k.relayOpenings()).toBe(1);
    const events = [...k.kiosk.events.since(0)];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events).toHaveLength(cases.length + 2);
    // Managers hear about health refusals at once: an alert was written with each of those events.
    expect(k.kiosk.events.unsentAlerts(50).map((a) => [a.kind, a.event.workerId])).toEqual([
      ['confirmed-case-entry-attempt', 'W-F0'],
      ['quarantined-entry-attempt', 'W-QUAR'],
      ['flagged-entry-attempt', 'W-FLAG'],
    ]);
    // Unknown or untrustworthy codes are stored only as a keyed hash, never as text.
    const malformed = events[0]!;
    expect(malformed).toMatchObject({ workerId: null, credentialKind: 'pass', reasons: ['MALFORMED_CODE'] });
    expect(malformed.codeHash).toMatch(/^[0-9a-f]{32}$/);
    expect(events[3]).toMatchObject({ workerId: null, reasons: ['BAD_SIGNATURE'] });
  });

  it('a badge refused at this gate is decided on that alone: no health rule, no health reason shown, no alert', async () => {
    await started();
    // Anyone can type a worker id on a keyboard-wedge or print it as a badge: at a gate that does not
    // accept badges, that must reveal nothing about the worker's health and raise no false alert.
    for (const id of ['W-F0', 'W-QUAR', 'W-FLAG', 'W-NODECL']) {
      const p = await k.scan(id);
      expect(p.decision).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['BADGE_NOT_ACCEPTED'] });
      expect(p.credentialAccepted).toBe(false);
      expect(passageView(p).reasons).toEqual(['BADGE_NOT_ACCEPTED']);
      // Nor whose number it is: no name on the screen.
      expect(p.displayName).toBeNull();
    }
    expect(k.kiosk.events.unsentAlerts(50)).toEqual([]);
    expect([...k.kiosk.events.since(0)].map((e) => e.reasons)).toEqual([['BADGE_NOT_ACCEPTED'], ['BADGE_NOT_ACCEPTED'], ['BADGE_NOT_ACCEPTED'], ['BADGE_NOT_ACCEPTED']]);
    // And the typed number is not put on that worker's record (tracing would place them here): a keyed hash only.
    for (const e of k.kiosk.events.since(0)) expect(e).toMatchObject({ workerId: null, codeHash: expect.stringMatching(/^[0-9a-f]{32}$/) });
    // The worker's own valid pass is still refused for their health, with the alert.
    const own = await k.scan(passFor(k.keys, 'W-F0'));
    expect(own.decision.reasons).toEqual(['CASE_F0']);
    expect(passageView(own, { discreet: false, healthGuidance: 'see-guard' }).reasons).toEqual(['CASE_F0']);
    expect(k.kiosk.events.unsentAlerts(50).map((a) => a.kind)).toEqual(['confirmed-case-entry-attempt']);
    expect(k.relayOpenings()).toBe(0);
  });

  it('the public view shows a health reason only for a credential accepted as the person\'s own', () => {
    const base = { seq: 1, displayName: 'X', durable: true, timing: { receivedAtNs: 0n, committedAtNs: 0n, actuatedAtNs: 0n } };
    const decision = { outcome: 'deny' as const, direction: 'entry' as const, reasons: ['BADGE_NOT_ACCEPTED', 'QUARANTINE_ACTIVE', 'ANTI_PASSBACK'] as ['BADGE_NOT_ACCEPTED', 'QUARANTINE_ACTIVE', 'ANTI_PASSBACK'] };
    expect(passageView({ ...base, decision, credentialAccepted: false }).reasons).toEqual(['BADGE_NOT_ACCEPTED', 'ANTI_PASSBACK']);
    expect(passageView({ ...base, decision, credentialAccepted: true }, { discreet: false, healthGuidance: 'see-guard' }).reasons).toEqual(['BADGE_NOT_ACCEPTED', 'QUARANTINE_ACTIVE', 'ANTI_PASSBACK']);
  });

  it('a repeat scan of the same code within the window is one event and does not re-open', async () => {
    await started();
    const text = passFor(k.keys, 'W-OK');
    expect((await k.scan(text)).decision.outcome).toBe('allow');
    const again = await k.scan(text);
    expect(again.decision.outcome).toBe('repeat');
    expect(again.seq).toBeNull();
    expect([...k.kiosk.events.since(0)]).toHaveLength(1);
    expect(k.relayOpenings()).toBe(1);
  });

  it('survives garbage bytes and a 1 MB line with a clear logged error, then keeps scanning', async () => {
    await started();
    await k.pty.write(new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x0d]));
    await k.pty.write('A\u0007B\r');
    const big = Buffer.alloc(1024 * 1024, 'Q');
    await k.pty.write(big);
    await k.pty.write('\r');
    await waitFor(() => (k.logs.filter((l) => l.msg === 'scanner input rejected').length >= 3 ? true : undefined), 'three rejections');
    const reasons = k.logs.filter((l) => l.msg === 'scanner input rejected').map((l) => l.reason);
    expect(reasons).toEqual(['not-utf8', 'control-byte', 'too-long']);
    expect([...k.kiosk.events.since(0)]).toHaveLength(0);
    expect(k.relayOpenings()).toBe(0);
    const p = await k.scan(passFor(k.keys, 'W-OK'));
    expect(p.decision.outcome).toBe('allow');
  });

  it('reopens the port when the scanner is unplugged and plugged back in', async () => {
    await started();
    expect((await k.scan(passFor(k.keys, 'W-OK'))).decision.outcome).toBe('allow');
    await k.pty.unplug();
    await waitFor(() => (k.kiosk.scanner?.state === 'disconnected' ? true : undefined), 'scanner disconnected');
    await new Promise((r) => setTimeout(r, 500));
    await k.pty.plug();
    await waitFor(() => (k.kiosk.scanner?.state === 'ready' ? true : undefined), 'scanner ready again');
    const p = await k.scan(passFor(k.keys, 'W-OK2'));
    expect(p.decision.outcome).toBe('allow');
    expect(k.logs.some((l) => l.ns === 'device:scanner' && l.msg === 'scanner unavailable')).toBe(true);
  });

  it('honours the CRLF suffix', async () => {
    await started({ suffix: 'CRLF' });
    expect((await k.scan(passFor(k.keys, 'W-OK'), '\r\n')).decision.outcome).toBe('allow');
  });

  it('fails safe when the disk is full: denies with a reason, holds the event, stores it on recovery', async () => {
    await started({ checkpointKind: 'canteen' });
    const db = k.kiosk.db;
    // SQLite's own size limit makes the file fill up exactly as a full disk would (SQLITE_FULL):
    // scans keep coming until the last page has no room.
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    let full: Awaited<ReturnType<typeof k.scan>> | undefined;
    let stored = 0;
    for (let i = 0; i < 300 && !full; i++) {
      const p = await k.scan(`BADGE-${i}`);
      if ((p.decision.reasons as string[]).includes('STORE_UNAVAILABLE')) full = p;
      else stored++;
    }
    expect(full?.decision).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['STORE_UNAVAILABLE'] });
    expect(full?.durable).toBe(false);
    expect(k.kiosk.gatekeeper.heldCount).toBe(1);
    expect(k.logs.find((l) => l.msg.startsWith('cannot store the scan'))).toMatchObject({ errorCode: 'SQLITE_FULL', level: 50 });

    // A worker who would be admitted stays outside while nothing can be recorded.
    const openingsBefore = k.relayOpenings();
    expect((await k.scan(passFor(k.keys, 'W-OK'))).decision.reasons).toEqual(['STORE_UNAVAILABLE']);
    expect(k.relayOpenings()).toBe(openingsBefore);
    expect(k.kiosk.gatekeeper.heldCount).toBe(2);

    db.pragma('max_page_count = 1073741823');
    const next = await k.scan(passFor(k.keys, 'W-OK2'));
    expect(next.decision.outcome).toBe('allow');
    // The held events are stored right after (not before the next scan, which a long backlog would hold up).
    await expect.poll(() => k.kiosk.gatekeeper.heldCount).toBe(0);
    const events = [...k.kiosk.events.since(0)];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events).toHaveLength(stored + 3);
    expect(events.slice(-3).map((e) => [e.decision, e.reasons])).toEqual([
      ['allow', []],
      // A held event keeps what the gate decided next to the store's failure: the unknown badge's reason.
      ['deny', ['STORE_UNAVAILABLE', 'UNKNOWN_WORKER']],
      ['deny', ['STORE_UNAVAILABLE']],
    ]);
    // Each keeps the time it was decided at.
    expect(events.at(-2)!.wallMs).toBeLessThanOrEqual(events.at(-3)!.wallMs);
  });

  it('fails safe when another process holds the database locked', async () => {
    await started();
    const other = new Database(join(k.dir.path, 'safegate.db'));
    other.pragma('busy_timeout = 0');
    other.exec('BEGIN EXCLUSIVE');
    try {
      const p = await k.scan(passFor(k.keys, 'W-OK'));
      expect(p.decision.reasons).toEqual(['STORE_UNAVAILABLE']);
      expect(k.relayOpenings()).toBe(0);
      expect(k.logs.find((l) => l.msg.startsWith('cannot store the scan'))?.errorCode).toMatch(/SQLITE_BUSY/);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await waitFor(() => (k.kiosk.gatekeeper.heldCount === 0 ? true : undefined), 'held event retried', 5_000);
    expect([...k.kiosk.events.since(0)].map((e) => e.reasons)).toEqual([['STORE_UNAVAILABLE']]);
  });

  it('keeps personal data out of the log', async () => {
    await started();
    await k.scan(passFor(k.keys, 'W-F0'));
    await k.scan('W-OK');
    const text = JSON.stringify(k.logs);
    expect(text).not.toContain('W-F0');
    expect(text).not.toContain('W-OK');
    expect(text).not.toContain('Người lao động');
    expect(k.logs.filter((l) => l.msg === 'scan')).toHaveLength(2);
    // Nor what is wrong with their health: the scan line names the category only.
    expect(text).not.toContain('CASE_F0');
    expect(k.logs.find((l) => l.msg === 'scan')).toMatchObject({ outcome: 'deny', reasons: ['health'] });
  });
});
