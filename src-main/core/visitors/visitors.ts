import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import { looksLikeCccd, parseCccd } from '../../../base/common/cccd.js';
import type { DeclarationAnswerSet } from '../../../base/common/declaration.js';
import { isFlaggedBits, answersToBits } from '../../../base/common/declaration.js';
import { RequestRefusal } from '../../../base/common/refusal.js';
import type { Direction, NewGateEvent, ScanSource, WorkerRecord } from '../../../base/common/types.js';
import {
  VISIT_TEXT_MAX,
  VISITOR_ID_PATTERN,
  VISITOR_NOTICE_VERSION,
  VISITOR_TOKEN_TTL_MS,
  type VisitDetails,
  type VisitorState,
  type VisitorView,
} from '../../../base/common/visitor.js';
import type { Policy } from '../../../base/common/policy/policy.js';
import { isStorageFault, type SqliteDatabase } from '../../../base/node/sqlite.js';
import type { VisitorKeyring } from '../../../base/node/visitor-keyring.js';
import type { DeclarationRecord } from '../declarations/desk.js';
import type { EventLog, PassageScope } from '../store/event-log.js';
import type { DccCheck } from './dcc-port.js';

/** A visit counts as current this long after its registration (a day's visit; then the visitor registers again). */
export const VISIT_CURRENT_MS = 24 * 3_600_000;
/** How many unregistered visitors' readings are held (memory only) at most; the oldest goes first. */
export const VISITOR_TOKENS_MAX = 64;

/** What the gate makes of a visitor's scan (Gatekeeper deps.visitors). */
export type VisitorIdentity =
  /** Not a valid card or certificate: refused with this reason (a malformed CCCD, an HC1 not verifiable). Logged with the code hash. */
  | { kind: 'refused'; credentialKind: 'cccd' | 'dcc'; failure: 'MALFORMED_CODE' | 'CERTIFICATE_INVALID' }
  /** Valid, no current visit: not logged; on a kiosk that registers visitors the screen offers registration. */
  | { kind: 'unregistered'; credentialKind: 'cccd' | 'dcc'; name: string; offer: (source: ScanSource) => { token: string; expiresAtMs: number } | null }
  /** A current visit: decided by the policy with visitor facts. */
  | {
      kind: 'registered';
      credentialKind: 'cccd' | 'dcc';
      visitorId: string;
      name: string;
      worker: WorkerRecord;
      approved: boolean | null;
      certificate: { type: 'vaccination' | 'test' | 'recovery'; accepted: boolean } | null;
    };

/** The gatekeeper's view of the visitor path. */
export interface VisitorGate {
  /** The text is a visitor's credential (a CCCD-like text, or an HC1 certificate when the kiosk reads them). */
  claims(text: string): boolean;
  identify(text: string, nowMs: number): VisitorIdentity;
  /** The visitor's last passage here (their own events), as EventLog.lastPassage does for workers. */
  lastPassage(visitorId: string, scope: PassageScope): { direction: Direction; atMs: number } | null;
}

/** What an unregistered visitor's scan read, held in memory until they register or cancel. */
interface HeldVisitor {
  text: string;
  source: ScanSource;
  credentialKind: 'cccd' | 'dcc';
  /** The 12-digit number or the certificate identifier: memory only, hashed when they register. */
  value: string;
  name: string;
  certificate: { type: 'vaccination' | 'test' | 'recovery'; accepted: boolean } | null;
  expiresAtMono: number;
}

interface VisitorRow {
  visitor_id: string;
  credential_kind: 'cccd' | 'dcc';
  name: string;
  host: string;
  purpose: string;
  registered_ms: number;
  declared_ms: number | null;
  declaration_flagged: number | null;
  decision: 'approved' | 'refused' | null;
  decided_by: string | null;
  decided_ms: number | null;
}

/** The gatekeeper's side the desk uses (narrow, so tests and the composition root can hand it over). */
export interface VisitorGatekeeper {
  now(): { wallMs: number; monoUs: number; bootId: string; synced: boolean; source?: 'gps' };
  checkpoint: { id: string; zone: string; kind: string; direction: string };
  commitBeside(event: NewGateEvent, write: (event: NewGateEvent) => number): number;
  /** Decides a visitor's card or certificate as a scan, bypassing the repeat window (just registered). */
  decideVisitorAgain(text: string, source: ScanSource): import('../gatekeeper.js').Passage;
}

export interface KioskVisitorsDeps {
  db: SqliteDatabase;
  events: EventLog;
  keyring: VisitorKeyring;
  policy: () => Policy;
  settings: { hosts: string[]; purposes: string[]; retentionDays: number };
  /** Records the visitor's declaration (part C's KioskDeclarationDesk.recordDeclaration). */
  recordDeclaration: (record: DeclarationRecord) => number;
  /** The named supervisor signed in with this token (throws SupervisorSessionError otherwise). */
  supervisorOf: (token: string) => { supervisorId: string; name: string };
  supervisorName?: (supervisorId: string) => string | null;
  /** HC1 verification (part G); absent: certificates are refused as not verifiable here. */
  dcc?: DccCheck;
  /** Whether unregistered visitors may register on this kiosk's screen (visitors.enabled and a screen). */
  registers: boolean;
  log: Logger;
  /** Monotonic milliseconds (token lifetimes). */
  monoNow?: () => number;
}

/**
 * Invisible formatting characters (bidirectional overrides and isolates, zero-width characters) and
 * half characters (an unpaired surrogate): in a visit's words they would make the supervisor's list
 * and the hub's traces show text other than what is stored (e.g. a purpose displayed reversed). A
 * kiosk keyboard never types them.
 */
const NOT_PLAIN_TEXT = /[\p{Cf}\p{Cs}]/u;

function cleanText(s: unknown, what: string): string {
  if (typeof s !== 'string') throw new RequestRefusal('invalid', `${what} is missing`);
  if (NOT_PLAIN_TEXT.test(s)) throw new RequestRefusal('invalid', `${what} has characters that are not plain text`);
  // eslint-disable-next-line no-control-regex -- control characters are refused
  const t = s.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').replace(/\s+/g, ' ').trim();
  if (t.length === 0) throw new RequestRefusal('invalid', `${what} is empty`);
  if ([...t].length > VISIT_TEXT_MAX) throw new RequestRefusal('invalid', `${what} is longer than ${VISIT_TEXT_MAX} characters`);
  return t;
}

/** A certificate holder's name as kept: NFC, no control or formatting characters, at most 120 characters (never half of one). */
function certificateName(raw: string): string {
  const t = raw.replace(/[\p{Cc}\p{Cf}\p{Cs}]/gu, ' ').normalize('NFC').replace(/\s+/g, ' ').trim();
  return [...t].slice(0, 120).join('').trim();
}

/**
 * Visitors at this kiosk (issue 14): the gate's visitor path (VisitorGate) and the screen's
 * VisitorDesk (src-main/api/screen-service.ts). What is kept: the pseudonym, the name, the visit, the
 * declaration (as part C records it) and a named supervisor's decision; the ID number only in memory
 * between the scan and the registration (at most VISITOR_TOKEN_TTL_MS), never on disk.
 */
export class KioskVisitors implements VisitorGate {
  private readonly held = new Map<string, HeldVisitor>();
  private readonly byId: Statement;
  private readonly lastInZone: Statement;
  private readonly lastAtCheckpoint: Statement;
  private gatekeeper: VisitorGatekeeper | undefined;

  constructor(private readonly deps: KioskVisitorsDeps) {
    const { db } = deps;
    this.byId = db.prepare('SELECT * FROM visitors WHERE visitor_id = ?');
    const last = `SELECT direction, wall_ms FROM events WHERE visitor_id = ? AND decision = 'allow' AND source NOT IN ('declaration', 'visitor', 'input')`;
    this.lastInZone = db.prepare(`${last} AND zone_id = ? ORDER BY seq DESC LIMIT 1`);
    this.lastAtCheckpoint = db.prepare(`${last} AND checkpoint_id = ? ORDER BY seq DESC LIMIT 1`);
  }

  /** The gatekeeper (made after this object: they refer to each other). */
  attach(gatekeeper: VisitorGatekeeper): void {
    this.gatekeeper = gatekeeper;
  }

  private gk(): VisitorGatekeeper {
    if (!this.gatekeeper) throw new Error('visitors: no gatekeeper attached');
    return this.gatekeeper;
  }

  private mono(): number {
    return this.deps.monoNow ? this.deps.monoNow() : performance.now();
  }

  claims(text: string): boolean {
    return looksLikeCccd(text) || (this.deps.dcc?.claims(text) ?? text.startsWith('HC1:'));
  }

  identify(text: string, nowMs: number): VisitorIdentity {
    let credentialKind: 'cccd' | 'dcc';
    let value: string;
    let name: string;
    let certificate: HeldVisitor['certificate'] = null;
    if (looksLikeCccd(text)) {
      credentialKind = 'cccd';
      const parsed = parseCccd(text);
      if (!parsed.ok) {
        // The reason only: the text is personal data.
        this.deps.log.debug({ reason: parsed.reason }, 'a citizen ID card code that does not read');
        return { kind: 'refused', credentialKind, failure: 'MALFORMED_CODE' };
      }
      value = parsed.card.idNumber;
      name = parsed.card.fullName;
    } else {
      credentialKind = 'dcc';
      const dcc = this.deps.dcc;
      if (!dcc) {
        this.deps.log.debug('a health certificate shown: not verifiable here (no verifier)');
        return { kind: 'refused', credentialKind, failure: 'CERTIFICATE_INVALID' };
      }
      const r = dcc.check(text, nowMs);
      if (!r.ok) {
        this.deps.log.debug({ detail: r.detail }, 'a health certificate refused');
        return { kind: 'refused', credentialKind, failure: 'CERTIFICATE_INVALID' };
      }
      value = r.certificateId;
      name = certificateName(r.name);
      if (name.length === 0) {
        this.deps.log.debug('a health certificate refused: no readable holder name');
        return { kind: 'refused', credentialKind, failure: 'CERTIFICATE_INVALID' };
      }
      certificate = { type: r.type, accepted: r.accepted };
    }
    const row = this.currentVisit(credentialKind, value, nowMs);
    if (row) {
      return {
        kind: 'registered',
        credentialKind,
        visitorId: row.visitor_id,
        name: row.name,
        worker: this.workerOf(row),
        approved: row.decision === null ? null : row.decision === 'approved',
        certificate,
      };
    }
    const held: Omit<HeldVisitor, 'source' | 'expiresAtMono'> = { text, credentialKind, value, name, certificate };
    return {
      kind: 'unregistered',
      credentialKind,
      name,
      offer: (source) => (this.deps.registers ? this.hold({ ...held, source, expiresAtMono: 0 }, nowMs) : null),
    };
  }

  lastPassage(visitorId: string, scope: PassageScope): { direction: Direction; atMs: number } | null {
    const row = ('zoneId' in scope ? this.lastInZone.get(visitorId, scope.zoneId) : this.lastAtCheckpoint.get(visitorId, scope.checkpointId)) as
      | { direction: Direction; wall_ms: number }
      | undefined;
    return row ? { direction: row.direction, atMs: row.wall_ms } : null;
  }

  private currentVisit(kind: 'cccd' | 'dcc', value: string, nowMs: number): VisitorRow | undefined {
    for (const id of this.deps.keyring.candidates(kind, value)) {
      const row = this.byId.get(id) as VisitorRow | undefined;
      if (row && nowMs - row.registered_ms < VISIT_CURRENT_MS && row.registered_ms <= nowMs + 60_000) return row;
    }
    return undefined;
  }

  /** A visitor as the policy sees them: their own declaration, nothing else (no roster data). */
  private workerOf(row: VisitorRow): WorkerRecord {
    return {
      workerId: row.visitor_id,
      displayName: row.name,
      company: '',
      team: '',
      declaredAt: row.declared_ms,
      declarationFlagged: row.declaration_flagged === 1,
      testResult: null,
      testedAt: null,
      vaccineDoses: 0,
      quarantineUntil: null,
      caseStatus: 'none',
    };
  }

  private hold(h: HeldVisitor, nowMs: number): { token: string; expiresAtMs: number } {
    const mono = this.mono();
    for (const [t, v] of this.held) if (v.expiresAtMono <= mono) this.held.delete(t);
    while (this.held.size >= VISITOR_TOKENS_MAX) this.held.delete(this.held.keys().next().value!);
    const token = randomBytes(18).toString('base64url');
    this.held.set(token, { ...h, expiresAtMono: mono + VISITOR_TOKEN_TTL_MS });
    return { token, expiresAtMs: nowMs + VISITOR_TOKEN_TTL_MS };
  }

  private take(token: unknown): HeldVisitor {
    if (typeof token !== 'string') throw new RequestRefusal('token-unknown', 'this registration is not known here (scan the card again)');
    const h = this.held.get(token);
    if (!h) throw new RequestRefusal('token-unknown', 'this registration is not known here (scan the card again)');
    if (this.mono() >= h.expiresAtMono) {
      this.held.delete(token);
      throw new RequestRefusal('token-expired', 'the time to register after the scan has run out (scan the card again)');
    }
    return h;
  }

  // ---- VisitorDesk ----

  view(): { hosts: string[]; purposes: string[]; approvalRequired: boolean; keptDays: number } {
    const params = this.deps.policy().params as { visitorApprovalRequiredAt?: string[] };
    return {
      hosts: [...this.deps.settings.hosts],
      purposes: [...this.deps.settings.purposes],
      approvalRequired: (params.visitorApprovalRequiredAt ?? []).includes(this.gk().checkpoint.kind),
      keptDays: this.deps.settings.retentionDays,
    };
  }

  cancel(token: string): void {
    if (typeof token === 'string') this.held.delete(token);
  }

  register(token: string, visit: VisitDetails, answers: DeclarationAnswerSet): import('../gatekeeper.js').Passage {
    const h = this.take(token);
    if (visit === null || typeof visit !== 'object') throw new RequestRefusal('invalid', 'the visit is missing');
    const host = cleanText(visit.host, 'whom you visit');
    const purpose = cleanText(visit.purpose, 'the purpose of the visit');
    const bits = answersToBits(answers); // throws on a malformed answer set (the API validated its shape)
    const gk = this.gk();
    const { db, events, keyring } = this.deps;
    const clock = gk.now();
    // A second registration token of the same card (scanned twice before registering) must not
    // replace a current visit: that would wipe a supervisor's refusal or approval and its declaration.
    if (this.currentVisit(h.credentialKind, h.value, clock.wallMs)) {
      this.held.delete(token);
      throw new RequestRefusal('already-registered', 'this visitor is already registered today (scan the card at the gate)');
    }
    const { visitorId, keyId } = keyring.pseudonym(h.credentialKind, h.value);
    if (!VISITOR_ID_PATTERN.test(visitorId)) throw new Error('visitor id out of pattern');
    const event: NewGateEvent = {
      wallMs: clock.wallMs,
      monoUs: clock.monoUs,
      bootId: clock.bootId,
      clockSynced: clock.synced,
      checkpointId: gk.checkpoint.id,
      zoneId: gk.checkpoint.zone,
      direction: 'entry',
      credentialKind: h.credentialKind,
      workerId: null,
      codeHash: null,
      decision: 'allow',
      reasons: ['VISITOR_REGISTERED'],
      source: 'visitor',
      policyVersion: this.deps.policy().version,
      visitorId,
      visit: { name: h.name, host, purpose, noticeVersion: VISITOR_NOTICE_VERSION },
      ...(clock.source === 'gps' ? { clockSource: 'gps' as const } : {}),
    };
    try {
      db.transaction(() => {
        const seq = gk.commitBeside(event, (e) => events.append(e));
        // Earlier visits of the same person (under another key) stay as their events; this row is the current one.
        db.prepare('DELETE FROM visitors WHERE visitor_id IN (SELECT value FROM json_each(?))').run(JSON.stringify(keyring.candidates(h.credentialKind, h.value)));
        db.prepare(
          `INSERT INTO visitors (visitor_id, key_id, credential_kind, name, host, purpose, notice_version, registered_ms, registered_seq, declared_ms, declaration_flagged)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(visitorId, keyId, h.credentialKind, h.name, host, purpose, VISITOR_NOTICE_VERSION, event.wallMs, seq, event.wallMs, isFlaggedBits(bits) ? 1 : 0);
        this.deps.recordDeclaration({ visitorId, credentialKind: h.credentialKind, answers: bits });
      })();
    } catch (err) {
      if (err instanceof RequestRefusal) throw err;
      if (!isStorageFault(err)) throw err;
      this.deps.log.error({ err: (err as Error).message }, 'cannot store a visitor registration: refused, they may try again');
      throw new RequestRefusal('store-unavailable', 'the kiosk cannot record the registration now; try again in a moment');
    }
    this.held.delete(token);
    this.deps.log.info({ visitorId }, 'visitor registered');
    return gk.decideVisitorAgain(h.text, h.source);
  }

  list(supervisorToken: string): VisitorView[] {
    this.deps.supervisorOf(supervisorToken);
    const since = this.gk().now().wallMs - VISIT_CURRENT_MS;
    const rows = this.deps.db.prepare('SELECT * FROM visitors WHERE registered_ms >= ? ORDER BY registered_ms DESC LIMIT 500').all(since) as VisitorRow[];
    const views = rows.map((r) => this.viewOf(r));
    const rank = (s: VisitorState) => (s === 'pending-approval' ? 0 : 1);
    return views.sort((a, b) => rank(a.state) - rank(b.state) || b.registeredAtMs - a.registeredAtMs);
  }

  decide(supervisorToken: string, visitorId: string, approve: boolean): VisitorView {
    const who = this.deps.supervisorOf(supervisorToken);
    if (typeof visitorId !== 'string' || !VISITOR_ID_PATTERN.test(visitorId)) throw new RequestRefusal('invalid', 'not a visitor id');
    if (typeof approve !== 'boolean') throw new RequestRefusal('invalid', 'approve must be true or false');
    const row = this.byId.get(visitorId) as VisitorRow | undefined;
    if (!row) throw new RequestRefusal('not-found', 'no such visitor here');
    if (row.decision !== null) throw new RequestRefusal('already-decided', 'this visitor was already decided');
    const gk = this.gk();
    const clock = gk.now();
    const event: NewGateEvent = {
      wallMs: clock.wallMs,
      monoUs: clock.monoUs,
      bootId: clock.bootId,
      clockSynced: clock.synced,
      checkpointId: gk.checkpoint.id,
      zoneId: gk.checkpoint.zone,
      direction: 'entry',
      credentialKind: row.credential_kind,
      workerId: null,
      codeHash: null,
      decision: approve ? 'allow' : 'deny',
      reasons: [approve ? 'VISITOR_APPROVED' : 'VISITOR_REFUSED'],
      source: 'visitor',
      policyVersion: this.deps.policy().version,
      visitorId,
      visit: { decidedBy: who.supervisorId },
      ...(clock.source === 'gps' ? { clockSource: 'gps' as const } : {}),
    };
    try {
      this.deps.db.transaction(() => {
        gk.commitBeside(event, (e) => this.deps.events.append(e));
        const changed = this.deps.db
          .prepare('UPDATE visitors SET decision = ?, decided_by = ?, decided_ms = ? WHERE visitor_id = ? AND decision IS NULL')
          .run(approve ? 'approved' : 'refused', who.supervisorId, event.wallMs, visitorId).changes;
        if (changed !== 1) throw new RequestRefusal('already-decided', 'this visitor was already decided');
      })();
    } catch (err) {
      if (err instanceof RequestRefusal || !isStorageFault(err)) throw err;
      throw new RequestRefusal('store-unavailable', 'the kiosk cannot record the decision now; try again in a moment');
    }
    this.deps.log.info({ visitorId, supervisorId: who.supervisorId, approve }, 'visitor decided');
    return this.viewOf(this.byId.get(visitorId) as VisitorRow);
  }

  private viewOf(r: VisitorRow): VisitorView {
    const last = this.lastPassage(r.visitor_id, { zoneId: this.gk().checkpoint.zone });
    const state: VisitorState =
      last?.direction === 'entry'
        ? 'inside'
        : last?.direction === 'exit'
          ? 'left'
          : r.decision === 'refused'
            ? 'refused'
            : r.decision === 'approved'
              ? 'approved'
              : this.view().approvalRequired
                ? 'pending-approval'
                : 'approved';
    return {
      visitorId: r.visitor_id,
      name: r.name,
      host: r.host,
      purpose: r.purpose,
      registeredAtMs: r.registered_ms,
      state,
      decidedBy: r.decided_by === null ? null : { supervisorId: r.decided_by, name: this.deps.supervisorName?.(r.decided_by) ?? null, atMs: r.decided_ms ?? r.registered_ms },
      credentialKind: r.credential_kind,
    };
  }

  /** A registered visitor's name (the entry log and inside-now name visitors by it); null once purged. */
  nameOf(visitorId: string): string | null {
    const row = this.byId.get(visitorId) as VisitorRow | undefined;
    return row?.name ?? null;
  }

  /** A registered visitor's name and visit (the supervisor's offline trace lists visitors by it); null once purged. */
  visitOf(visitorId: string): { name: string; host: string; purpose: string } | null {
    const row = this.byId.get(visitorId) as VisitorRow | undefined;
    return row ? { name: row.name, host: row.host, purpose: row.purpose } : null;
  }

  /** Drops visitors registered before `beforeMs` (the events' retention). */
  purgeBefore(beforeMs: number): number {
    return this.deps.db.prepare('DELETE FROM visitors WHERE registered_ms < ?').run(beforeMs).changes;
  }
}
