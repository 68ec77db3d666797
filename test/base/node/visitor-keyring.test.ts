import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VisitorKeyring, VisitorKeyringError } from '../../../base/node/visitor-keyring.js';
import { VISITOR_ID_PATTERN } from '../../../base/common/visitor.js';

const DAY = 86_400_000;
const NUMBER = '079099000123'; // synthetic

describe('VisitorKeyring', () => {
  let dir: string;
  let file: string;
  let now: number;
  const clock = () => now;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-vkr-'));
    file = join(dir, 'visitor.key');
    now = Date.UTC(2026, 0, 1);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a 0600 keyring on first open; pseudonyms follow the pattern, are stable across reopen and differ per kind and number', () => {
    const a = VisitorKeyring.open(file, { retentionDays: 28, now: clock });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const p = a.pseudonym('cccd', NUMBER);
    expect(p.visitorId).toMatch(VISITOR_ID_PATTERN);
    expect(p.visitorId.startsWith(`v${p.keyId}.`)).toBe(true);
    const b = VisitorKeyring.open(file, { retentionDays: 28, now: clock });
    expect(b.pseudonym('cccd', NUMBER)).toEqual(p);
    expect(b.pseudonym('dcc', NUMBER).visitorId).not.toBe(p.visitorId);
    expect(b.pseudonym('cccd', '079099000124').visitorId).not.toBe(p.visitorId);
    // The file holds keys, never the number.
    expect(readFileSync(file, 'utf8')).not.toContain(NUMBER);
  });

  it('another keyring (another kiosk file) gives another pseudonym for the same number', () => {
    const a = VisitorKeyring.open(file, { retentionDays: 28, now: clock });
    const b = VisitorKeyring.open(join(dir, 'other.key'), { retentionDays: 28, now: clock });
    expect(a.pseudonym('cccd', NUMBER).visitorId).not.toBe(b.pseudonym('cccd', NUMBER).visitorId);
  });

  it('rotates no faster than the retention, keeps the retired key for matching, drops it once retired longer than the retention', () => {
    // rotationDays shorter than the retention is raised to the retention.
    const ring = VisitorKeyring.open(file, { retentionDays: 28, rotationDays: 7, now: clock });
    const first = ring.pseudonym('cccd', NUMBER);
    now += 27 * DAY;
    expect(ring.pseudonym('cccd', NUMBER)).toEqual(first);
    now += 1 * DAY; // 28 days: rotate
    const second = ring.pseudonym('cccd', NUMBER);
    expect(second.keyId).not.toBe(first.keyId);
    expect(ring.candidates('cccd', NUMBER)).toEqual([second.visitorId, first.visitorId]);
    // Reopened from the file: same keys.
    const again = VisitorKeyring.open(file, { retentionDays: 28, now: clock });
    expect(again.candidates('cccd', NUMBER)).toEqual([second.visitorId, first.visitorId]);
    now += 27 * DAY;
    expect(again.candidates('cccd', NUMBER)).toContain(first.visitorId);
    now += 1 * DAY; // the first key retired 28 days ago: dropped; the second rotates at the same time
    const ids = again.keyIds();
    expect(ids).not.toContain(first.keyId);
    expect(ids).toContain(second.keyId);
    expect(again.candidates('cccd', NUMBER)).not.toContain(first.visitorId);
    expect(readFileSync(file, 'utf8')).not.toContain(`"${first.keyId}"`);
  });

  it('a longer rotation period is honoured', () => {
    const ring = VisitorKeyring.open(file, { retentionDays: 10, rotationDays: 30, now: clock });
    const k = ring.currentKeyId();
    now += 29 * DAY;
    expect(ring.currentKeyId()).toBe(k);
    now += DAY;
    expect(ring.currentKeyId()).not.toBe(k);
  });

  it('refuses a keyring others can read, saying how to fix it', () => {
    VisitorKeyring.open(file, { retentionDays: 28, now: clock });
    chmodSync(file, 0o644);
    expect(() => VisitorKeyring.open(file, { retentionDays: 28, now: clock })).toThrow(/chmod 600/);
    chmodSync(file, 0o640);
    expect(() => VisitorKeyring.open(file, { retentionDays: 28, now: clock })).toThrow(VisitorKeyringError);
    chmodSync(file, 0o600);
    expect(() => VisitorKeyring.open(file, { retentionDays: 28, now: clock })).not.toThrow();
  });

  it('refuses a link, a file that is not a keyring, and duplicate key ids, without throwing anything else', () => {
    const target = join(dir, 'target');
    writeFileSync(target, '{}', { mode: 0o600 });
    const link = join(dir, 'link.key');
    symlinkSync(target, link);
    expect(() => VisitorKeyring.open(link, { retentionDays: 28, now: clock })).toThrow(/not a plain file/);
    const bad = join(dir, 'bad.key');
    for (const text of ['', 'not json', '{"v":1,"keys":[]}', '{"v":2,"keys":[{"id":"a","secret":"00","createdMs":1}]}']) {
      writeFileSync(bad, text, { mode: 0o600 });
      expect(() => VisitorKeyring.open(bad, { retentionDays: 28, now: clock })).toThrow(/not a SafeGate visitor keyring/);
    }
    const k = { id: 'a1', secret: 'ab'.repeat(32), createdMs: now };
    writeFileSync(bad, JSON.stringify({ v: 1, keys: [k, { ...k, retiredMs: now }] }), { mode: 0o600 });
    expect(() => VisitorKeyring.open(bad, { retentionDays: 28, now: clock })).toThrow(/twice/);
  });
});
