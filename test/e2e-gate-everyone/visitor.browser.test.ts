import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VISITOR_ID_PATTERN, VISITOR_NOTICE_VERSION } from '../../base/common/visitor.js';
import { screenshotAt } from '../helpers/browser.js';
import { GateSite, until, VISITOR_HOSTS } from './site.js';
import { answerDeclaration, signInSupervisor, UI } from './screens.js';

/**
 * A synthetic citizen ID card (CCCD) QR in the documented layout (DOMAIN.md): 12-digit number, old
 * 9-digit number, full name, date of birth ddmmyyyy, sex, permanent address, date of issue. No real
 * person's data: the numbers are made up and the address names no real street.
 */
const CARD = {
  idNumber: '079386015247',
  oldIdNumber: '271958364',
  name: 'Phạm Thị Khách',
  dateOfBirth: '14071988',
  sex: 'Nữ',
  address: 'Số 77 Đường Thử Nghiệm, Phường Mẫu Số Hai, Thành phố Không Có',
  issuedOn: '03092021',
};
const CCCD = [CARD.idNumber, CARD.oldIdNumber, CARD.name, CARD.dateOfBirth, CARD.sex, CARD.address, CARD.issuedOn].join('|');
/** What may never be stored or logged anywhere: the numbers, the address (and a distinctive part of it), the date of birth in any usual form. */
const NEVER_KEPT: [string, string][] = [
  ['ID number', CARD.idNumber],
  ['old ID number', CARD.oldIdNumber],
  ['address', CARD.address],
  ['part of the address', 'Đường Thử Nghiệm'],
  ['date of birth', CARD.dateOfBirth],
  ['date of birth (ISO)', '1988-07-14'],
  ['date of birth (dd/mm/yyyy)', '14/07/1988'],
  ['the card text', CCCD],
];
const PURPOSE = 'Họp / Meeting';
/** The repeat window of the built-in policy is 5 s: a card scanned again sooner is "already recorded". */
const REPEAT_WINDOW_MS = 5_000;

/** Each text of NEVER_KEPT found in the bytes (UTF-8), by name. */
function foundIn(bytes: Buffer): string[] {
  return NEVER_KEPT.filter(([, text]) => bytes.includes(Buffer.from(text, 'utf8'))).map(([what]) => what);
}

/** A database file and its write-ahead log (what a copy of the kiosk's folder would hold). */
function databaseBytes(file: string): { file: string; bytes: Buffer }[] {
  return [file, `${file}-wal`, `${file}-journal`].filter((f) => existsSync(f)).map((f) => ({ file: f, bytes: readFileSync(f) }));
}

/**
 * The second "done means" line, end to end at the factory gate of the site in
 * test/e2e-gate-everyone/site.ts (real hub, Mosquitto, the gate's screens in Chromium): a visitor
 * scans their (synthetic) CCCD, reads the notice and agrees, says whom they visit and why, declares,
 * and waits for approval; a NAMED supervisor signs in and approves them on the Visitors tab; the
 * visitor scans again and is admitted, then scans out and has left. The kiosk's SQLite file then
 * holds the pseudonym, the name and the visit only: the ID number, old number, address and date of
 * birth are nowhere in the database file, its WAL, or the kiosk's log.
 */
describe('a visitor registers by a synthetic CCCD at the gate (Chromium), a named supervisor approves, they enter and leave; only the hash, the name and the visit are kept', () => {
  const site = new GateSite();
  const startedAt = Date.now() - 1_000;
  let page: Page;
  let lastCardScanMs = 0;

  beforeAll(async () => {
    await site.start();
    page = site.page;
    await site.gate.kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '246810' });
  }, 180_000);

  afterAll(async () => {
    await site.stop();
  }, 60_000);

  /** The visitor holds their card to the gate's scanner (no sooner than the repeat window after the last time). */
  async function scanCard(): Promise<void> {
    const wait = lastCardScanMs + REPEAT_WINDOW_MS + 500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    lastCardScanMs = Date.now();
    await site.gate.pty.write(`${CCCD}\r`);
  }

  const visitorEvents = () => site.events(site.gate, startedAt).filter((e) => e.visitorId !== undefined && e.visitorId !== null);

  it('scan -> notice -> agree -> host and purpose -> declaration -> waiting for approval (nothing kept before the agreement)', async () => {
    await scanCard();
    await page.getByTestId(UI.visitorNotice).waitFor({ timeout: 30_000 });
    // Before the visitor agreed, nothing about them is kept.
    expect(site.events(site.gate, startedAt)).toEqual([]);
    // The notice says how long (store.retentionDays, 28 by default) and greets the visitor by the name read.
    expect(await page.getByTestId(UI.visitorKeptDays).innerText()).toMatch(/\b28\b/);
    expect(await page.getByTestId(UI.visitorGreeting).innerText()).toContain(CARD.name);
    await screenshotAt(page, { width: 800, height: 480 }, 'e2e-visitor-notice');
    await page.getByTestId(UI.visitorAgree).click();

    await page.getByTestId(UI.visitorHostChoice).filter({ hasText: VISITOR_HOSTS[0] }).click();
    await page.getByTestId(UI.visitorPurposeChoice).filter({ hasText: PURPOSE }).click();
    await answerDeclaration(page, []);
    // The result: waiting for a supervisor's approval (the gate stays shut), with what to do next.
    const result = page.getByTestId('result');
    await result.waitFor({ timeout: 30_000 });
    expect(await result.getAttribute('data-outcome')).toBe('deny');
    expect(await result.getAttribute('data-waiting')).toBe('true');
    await page.getByTestId('result-approval-note').waitFor();
    await screenshotAt(page, { width: 800, height: 480 }, 'e2e-visitor-pending');

    const events = await until(() => {
      const es = visitorEvents();
      return es.some((e) => e.reasons.includes('VISITOR_APPROVAL_PENDING')) ? es : undefined;
    }, 'the registration, declaration and pending events', 30_000, visitorEvents);
    const visitorId = events[0]!.visitorId!;
    expect(visitorId).toMatch(VISITOR_ID_PATTERN);
    expect(events.map((e) => [e.source, e.decision, e.reasons, e.visitorId])).toEqual([
      ['visitor', 'allow', ['VISITOR_REGISTERED'], visitorId],
      ['declaration', 'allow', [], visitorId],
      ['serial', 'deny', ['VISITOR_APPROVAL_PENDING'], visitorId],
    ]);
    expect(events[0]!.visit).toMatchObject({ name: CARD.name, host: VISITOR_HOSTS[0], purpose: PURPOSE, noticeVersion: VISITOR_NOTICE_VERSION });
    expect(events[1]!.declaration).toEqual({ answers: 0 });
    for (const e of events) expect(e, `event ${e.seq}`).toMatchObject({ workerId: null, codeHash: null });
    expect(events[2]!.credentialKind).toBe('cccd');
  }, 120_000);

  it('a named supervisor signs in and approves the waiting visitor on the Visitors tab; the approval names them', async () => {
    await page.getByTestId('result').click();
    await page.getByTestId('result').waitFor({ state: 'detached' });
    await signInSupervisor(page, 'lan', '246810');
    await page.getByTestId(UI.tabVisitors).click();
    const row = page.getByTestId(UI.visitorRow).filter({ hasText: CARD.name });
    await row.waitFor({ timeout: 30_000 });
    expect(await row.getAttribute('data-state')).toBe('pending-approval');
    await screenshotAt(page, { width: 800, height: 480 }, 'e2e-visitor-supervisor');
    await row.getByTestId(UI.visitorApprove).click();
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('approved');
    const approval = await until(() => visitorEvents().find((e) => e.reasons.includes('VISITOR_APPROVED')), 'the approval event', 30_000);
    expect(approval).toMatchObject({ source: 'visitor', decision: 'allow', visit: { decidedBy: 'lan' } });
    await page.getByTestId('supervisor-close').click();
    await page.getByTestId('idle').waitFor({ timeout: 30_000 });
  }, 120_000);

  it('the visitor scans again and is admitted, is on the supervisor\'s "inside now" under their name, then scans out and has left', async () => {
    const before = visitorEvents().length;
    await scanCard();
    const result = page.getByTestId('result');
    await result.waitFor({ timeout: 30_000 });
    expect(await result.getAttribute('data-outcome')).toBe('allow');
    expect(await page.getByTestId('result-name').textContent()).toBe(CARD.name);
    await screenshotAt(page, { width: 800, height: 480 }, 'e2e-visitor-admitted');
    const entry = await until(() => visitorEvents()[before], 'the entry event', 30_000, visitorEvents);
    expect(entry).toMatchObject({ source: 'serial', decision: 'allow', reasons: [], direction: 'entry', credentialKind: 'cccd', workerId: null, codeHash: null });
    await result.click();
    await result.waitFor({ state: 'detached' });

    // The supervisor's roll-call lists them while they are inside, and not once they have left.
    await signInSupervisor(page, 'lan', '246810');
    await page.getByTestId('tab-inside').click();
    const inside = page.getByTestId('inside-row').filter({ hasText: CARD.name });
    await inside.waitFor({ timeout: 30_000 });
    await screenshotAt(page, { width: 800, height: 480 }, 'e2e-visitor-inside');

    await scanCard();
    const exit = await until(() => visitorEvents()[before + 1], 'the exit event', 30_000, visitorEvents);
    expect(exit).toMatchObject({ source: 'serial', decision: 'allow', direction: 'exit', credentialKind: 'cccd', visitorId: entry.visitorId, workerId: null, codeHash: null });
    // The exit's result covers the supervisor screen until tapped away.
    await result.waitFor({ timeout: 30_000 });
    expect(await result.getAttribute('data-outcome')).toBe('allow');
    await result.click();
    await result.waitFor({ state: 'detached' });
    await expect.poll(() => inside.count(), { timeout: 30_000 }).toBe(0);
    await page.getByTestId('supervisor-close').click();
  }, 120_000);

  it("the kiosk's database holds the pseudonym, the name and the visit only: no ID number, old number, address or date of birth in its file, WAL or log", () => {
    const db = new Database(site.gate.dbFile, { readonly: true, fileMustExist: true });
    try {
      const visitors = db.prepare('SELECT * FROM visitors').all() as Record<string, unknown>[];
      expect(visitors).toHaveLength(1);
      const v = visitors[0]!;
      expect(v.visitor_id).toMatch(VISITOR_ID_PATTERN);
      expect(v).toMatchObject({ credential_kind: 'cccd', name: CARD.name, host: VISITOR_HOSTS[0], purpose: PURPOSE, notice_version: VISITOR_NOTICE_VERSION, decision: 'approved', decided_by: 'lan' });
      const rows = db.prepare('SELECT source, worker_id, code_hash, credential_kind, visitor_id, visit, declaration_bits FROM events WHERE visitor_id IS NOT NULL ORDER BY seq').all() as Record<string, unknown>[];
      expect(rows.length).toBeGreaterThanOrEqual(6);
      for (const r of rows) {
        expect(r, JSON.stringify(r)).toMatchObject({ worker_id: null, code_hash: null, visitor_id: v.visitor_id });
        // The visit holds the name, whom, why, the notice agreed to and who decided; nothing else.
        if (r.visit !== null) for (const k of Object.keys(JSON.parse(r.visit as string) as object)) expect(['name', 'host', 'purpose', 'noticeVersion', 'decidedBy'], `visit field ${k}`).toContain(k);
      }
    } finally {
      db.close();
    }
    for (const { file, bytes } of databaseBytes(site.gate.dbFile)) expect(foundIn(bytes), file).toEqual([]);
    expect(foundIn(Buffer.from(site.gate.logLines.join(''), 'utf8')), "the kiosk's log").toEqual([]);
    // Names are not logged at info and above either (pino levels: info 30).
    const infoAndUp = site.gate.logLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 30);
    expect(infoAndUp.filter((l) => l.includes(CARD.name))).toEqual([]);
  });

  it("the visitor's events reach the hub in the batch upload; the hub's files hold no ID number, old number, address or date of birth either", async () => {
    const atKiosk = visitorEvents();
    const atHub = await until(
      () => {
        const rows = site.hubQuery<{ seq: number; visitor_id: string | null; worker_id: string | null }>('store', 'SELECT seq, visitor_id, worker_id FROM hub_events WHERE device_id = ? AND visitor_id IS NOT NULL ORDER BY seq', site.gate.id);
        return rows.length >= atKiosk.length ? rows : undefined;
      },
      "the visitor's events at the hub",
      60_000,
      () => site.hubQuery('store', 'SELECT count(*) AS n FROM hub_events WHERE device_id = ?', site.gate.id),
    );
    expect(atHub).toEqual(atKiosk.map((e) => ({ seq: e.seq, visitor_id: e.visitorId, worker_id: null })));
    for (const f of [site.hubDbFile, site.directoryFile]) for (const { file, bytes } of databaseBytes(f)) expect(foundIn(bytes), file).toEqual([]);
    expect(foundIn(Buffer.from(site.hub.logs.map((l) => JSON.stringify(l)).join('\n'), 'utf8')), "the hub's log").toEqual([]);
  }, 120_000);
});
