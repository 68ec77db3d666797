import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Settings } from '../core/config.js';
import type { Passage } from '../core/gatekeeper.js';
import { ExportError, OverrideError, SupervisorSessionError, type SupervisorDesk } from '../core/supervisor/desk.js';
import {
  API_VERSION,
  ApiError,
  REQUESTS,
  type DataAgeLevel,
  type Events,
  type LinkView,
  type Method,
  type Guidance,
  type PassageKind,
  type PassageView,
  type Results,
  type EnrolmentView,
  type ScreenState,
  type WireReply,
} from './contract.js';
import type { Notice } from '../../base/common/types.js';
import { TripRefusal, type TripControl } from '../../base/common/bus.js';
import { RequestRefusal } from '../../base/common/refusal.js';
import type { DeclarationAnswerSet } from '../../base/common/declaration.js';
import type { VisitDetails, VisitorView } from '../../base/common/visitor.js';
import type { SelftestResult } from '../../base/common/selftest.js';
import { issuesText } from '../../base/common/validation.js';
import { isEnrolmentCode } from '../../base/common/enrolment.js';
import { isSensitive, reasonCategory, type DenyReason, type ReasonCategory } from '../../base/common/reasons.js';

/** What the screens need of the running kiosk; the composition root supplies it. */
export interface ScreenCore {
  settings: Settings;
  handleScan(text: string, source: 'camera' | 'keyboard'): Passage;
  onPassage(listener: (p: Passage) => void): () => void;
  link(): LinkView;
  outbox(): { depth: number; oldestUnsyncedAgeS: number | null };
  /** Seconds since the hub confirmed the roster (null: never, or a standalone kiosk) and the policy limit. */
  dataAge(): { ageS: number | null; maxAgeS: number; syncs: boolean };
  /** The store's room: a warning for staff when the disk runs low or scans wait to be written. */
  storage(): { level: 'ok' | 'low' | 'critical'; heldEvents: number };
  notices(): Notice[];
  supervisor: SupervisorDesk;
  /** The gate's mode (the emergency release); normal when the kiosk has no such input. */
  gate?(): { mode: 'normal' | 'emergency-open' };
  /** An enrolled kiosk's word about an enrolment code it was shown and ignored (null: nothing to say). */
  enrolment?(): EnrolmentView | null;
  /** Runs the self-test on the kiosk's own live objects (absent: the kiosk has none to offer). */
  selftest?(): Promise<SelftestResult[]>;
  /** An enrolment code read on the screen side: an enrolled kiosk ignores it (never a pass, never a re-enrolment). */
  enrolmentCodeSeen?(): void;
  /** A bus unit's trips (the driver screen); absent on any other checkpoint. */
  bus?: TripControl;
  /** Health declarations on this screen (issue 14); absent: the kiosk takes none (no screen). */
  declarations?: DeclarationDesk;
  /** Visitor registration (issue 14); absent: visitors are not taken here. */
  visitors?: VisitorDesk;
}

/**
 * Declarations taken on the kiosk's screen. Refusals are RequestRefusal (base/common/refusal.ts):
 * an unknown, used or expired token says so.
 */
export interface DeclarationDesk {
  /**
   * Records the declaration of the person `token` names (PassageView.declareToken), then decides their
   * scan again if it was refused for their declaration; one that let them through, or found them inside,
   * stands, and the answer is the declaration's own (`declared`, or refused DECLARATION_FLAGGED).
   */
  submit(token: string, answers: DeclarationAnswerSet): Passage;
}

/** Visitors at this kiosk. Refusals are RequestRefusal; supervisor calls take a session token (SupervisorSessionError when not signed in). */
export interface VisitorDesk {
  /** What the registration screen offers (ScreenState.visitors). */
  view(): { hosts: string[]; purposes: string[]; approvalRequired: boolean; keptDays: number };
  /** The visitor agreed to the notice: keep the visit (hash, name, visit), record the declaration, decide. */
  register(token: string, visit: VisitDetails, answers: DeclarationAnswerSet): Passage;
  /** Forget what the scan read (the visitor said no or walked away). */
  cancel(token: string): void;
  /** Today's visitors here (waiting first). */
  list(supervisorToken: string): VisitorView[];
  /** A named supervisor approves or refuses a waiting visitor (a `visitor` event records it). */
  decide(supervisorToken: string, visitorId: string, approve: boolean): VisitorView;
}

/** What a screen transport (the loopback server) needs of the core's side of the renderer API. */
export interface ScreenEndpoint {
  dispatch(method: unknown, params: unknown): Promise<WireReply>;
  on(event: 'passage', listener: (payload: Events['passage']) => void): unknown;
  off(event: 'passage', listener: (payload: Events['passage']) => void): unknown;
}

/** How the public result screen treats health reasons (settings `screens.discreet`, `screens.healthGuidance`). */
export interface PublicViewRules {
  discreet: boolean;
  healthGuidance: 'see-guard' | 'medical-room';
}

const DISCREET: PublicViewRules = { discreet: true, healthGuidance: 'see-guard' };

/** What to do next, per non-health reason; health reasons take the site's `healthGuidance`. */
const NEXT_STEP: Record<Exclude<ReasonCategory, 'health'>, Partial<Record<DenyReason, Guidance>> & { default: Guidance }> = {
  credential: {
    PASS_EXPIRED: 'renew-pass',
    PASS_REVOKED: 'see-office',
    PASS_NOT_YET_VALID: 'wait-until-valid',
    MALFORMED_CODE: 'scan-again',
    BADGE_NOT_ACCEPTED: 'use-qr-pass',
    UNKNOWN_WORKER: 'see-office',
    PASS_STALE: 'refresh-phone-pass',
    PHONE_CLOCK_AHEAD: 'set-phone-time',
    PHONE_PASS_REQUIRED: 'use-qr-pass',
    default: 'see-guard',
  },
  procedure: { ANTI_PASSBACK: 'scan-out-first', WORKER_NOT_SERVED: 'use-own-gate', default: 'see-guard' },
  device: { default: 'call-supervisor' },
};

/** The order in which a refusal's kind is chosen when its reasons span categories. */
const KIND_ORDER: ReasonCategory[] = ['device', 'credential', 'health', 'procedure'];

/**
 * A decision as the public result screen may show it. In discreet mode no health reason is in it
 * at all (kind 'health' and the site's guidance say what to do); otherwise a health reason is shown
 * only when the credential was accepted as the person's own, never under a name typed at the gate.
 */
export function passageView(p: Passage, rules: PublicViewRules = DISCREET, atMs = Date.now()): PassageView {
  const { outcome, direction } = p.decision;
  const all: readonly DenyReason[] = p.decision.reasons;
  const reasons = all.filter((r) => !isSensitive(r) || (!rules.discreet && p.credentialAccepted));
  let kind: PassageKind;
  let guidance: Guidance | null = null;
  if (outcome === 'repeat') kind = 'repeat';
  else if (outcome === 'allow') kind = all.includes('SUPERVISOR_OVERRIDE') ? 'override' : 'allow';
  else {
    // A health reason under a name typed at the gate was never decided (credential refusals stand
    // alone), so `all` is safe to classify; only what is shown is filtered.
    const category = KIND_ORDER.find((c) => all.some((r) => reasonCategory(r) === c)) ?? 'device';
    kind = category;
    if (category === 'health') guidance = rules.healthGuidance;
    else {
      const steps = NEXT_STEP[category];
      const first = all.find((r) => reasonCategory(r) === category);
      guidance = (first && steps[first]) || steps.default;
    }
  }
  const view: PassageView = { seq: p.seq, outcome, direction, displayName: p.displayName, kind, reasons, guidance, atMs };
  // Never a "Declare now" after a flagged declaration (it stands for the rest of the day): in discreet
  // mode the screen cannot tell a flagged refusal from a missing one, so the token is what decides.
  if (p.declareToken !== undefined && !(outcome === 'deny' && all.includes('DECLARATION_FLAGGED'))) view.declareToken = p.declareToken;
  if (p.declared) view.declared = true;
  if (p.visitor !== undefined) view.visitor = { ...p.visitor };
  return view;
}

export function dataAgeLevel(ageS: number | null, maxAgeS: number, syncs: boolean): DataAgeLevel {
  if (!syncs) return 'ok';
  if (ageS === null) return 'unknown';
  if (ageS > maxAgeS) return 'too-old';
  return ageS > maxAgeS / 2 ? 'warning' : 'ok';
}

type Handlers = { [M in Method]: (params: ReturnType<(typeof REQUESTS)[M]['parse']>) => Promise<Results[M]> | Results[M] };

/**
 * The core side of the renderer API, transport-neutral: `dispatch` takes a method name and raw
 * parameters from any transport, validates them against the contract and answers with a wire
 * reply; it never throws. Pushed events are emitted for the transports to forward.
 */
export class ScreenService extends EventEmitter<{ [E in keyof Events]: [Events[E]] }> {
  private readonly handlers: Handlers;
  private readonly publicRules: PublicViewRules;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly core: ScreenCore,
    private readonly log: Logger,
  ) {
    super();
    const desk = core.supervisor;
    const rules = core.settings.screens.supervisor;
    this.publicRules = { discreet: core.settings.screens.discreet, healthGuidance: core.settings.screens.healthGuidance };
    this.handlers = {
      'screen.state': () => this.state(),
      'scan.submit': (p) => {
        if (isEnrolmentCode(p.text.trim()) && core.enrolmentCodeSeen) {
          core.enrolmentCodeSeen();
          throw new ApiError('refused', 'this kiosk is enrolled already: an enrolment code is ignored at the gate');
        }
        return passageView(core.handleScan(p.text, p.source), this.publicRules);
      },
      'supervisor.accounts': () => ({ accounts: desk.accountList() }),
      'supervisor.login': async (p) => {
        const r = await desk.login(p.supervisorId, p.pin);
        return r.ok ? { ...r, sessionMinutes: rules.sessionMinutes } : r;
      },
      'supervisor.logout': (p) => {
        desk.logout(p.token);
        return { ok: true as const };
      },
      'supervisor.log': (p) => desk.entryLog(p.token, p.query, p.limit),
      'supervisor.inside': (p) => ({ workers: desk.inside(p.token) }),
      'supervisor.trace': (p) => desk.trace(p.token, p),
      'supervisor.override': (p) => passageView(desk.override(p.token, p.seq, p.reasonCode, p.note), this.publicRules),
      'supervisor.drives': async (p) => {
        const drives = await desk.drives(p.token);
        return { drives, hub: desk.canSendToHub(), hubWaiting: desk.canSendToHub() ? desk.hubPending(p.token).length : 0 };
      },
      'supervisor.selftest': async (p) => {
        // Signed in first: nothing about the kiosk is said to a screen without a supervisor.
        const results = await desk.selftest(p.token, () => (core.selftest ? core.selftest() : Promise.reject(new ApiError('refused', 'this kiosk has no self-test to run'))));
        return { results, atMs: Date.now() };
      },
      'supervisor.sendWaiting': async (p) => {
        let sent = 0;
        for (const w of desk.hubPending(p.token)) {
          await desk.resendToHub(p.token, w.exportId);
          sent++;
        }
        return { sent, waiting: desk.hubPending(p.token).length };
      },
      'bus.startTrip': (p) => this.trips().startTrip('button', p.routeId),
      'bus.endTrip': () => this.trips().endTrip('button'),
      'bus.chooseRoute': (p) => this.trips().chooseRoute(p.routeId),
      'declaration.submit': (p) => passageView(this.declarations().submit(p.token, p.answers), this.publicRules),
      'visitor.register': (p) => passageView(this.visitors().register(p.token, { host: p.host, purpose: p.purpose }, p.answers), this.publicRules),
      'visitor.cancel': (p) => {
        this.visitors().cancel(p.token);
        return { ok: true as const };
      },
      'supervisor.visitors': (p) => ({ visitors: this.visitors().list(p.token) }),
      'supervisor.decideVisitor': (p) => this.visitors().decide(p.token, p.visitorId, p.approve),
      'supervisor.export': async (p) => {
        if (p.toHub) {
          const sent = await desk.exportToHub(p.token, p.query, p.format, p.language);
          return { target: 'hub' as const, ...sent };
        }
        if (p.driveId !== undefined) {
          const written = await desk.exportToDrive(p.token, p.query, p.format, p.language, p.driveId);
          return { target: 'drive' as const, ...written };
        }
        const file = await desk.exportLog(p.token, p.query, p.format, p.language);
        return {
          target: 'download' as const,
          fileName: file.fileName,
          mimeType: p.format === 'csv' ? 'text/csv;charset=utf-8' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
          base64: Buffer.from(file.bytes).toString('base64'),
          rows: file.rows,
        };
      },
    };
  }

  private declarations(): DeclarationDesk {
    if (!this.core.declarations) throw new ApiError('refused', 'this kiosk does not take health declarations');
    return this.core.declarations;
  }

  private visitors(): VisitorDesk {
    if (!this.core.visitors) throw new ApiError('refused', 'visitors are not registered at this checkpoint');
    return this.core.visitors;
  }

  private trips(): TripControl {
    if (!this.core.bus) throw new ApiError('refused', 'this checkpoint is not a bus: it has no trips');
    return this.core.bus;
  }

  start(): void {
    this.unsubscribe = this.core.onPassage((p) => this.emit('passage', passageView(p, this.publicRules)));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  async dispatch(method: unknown, params: unknown): Promise<WireReply> {
    try {
      if (typeof method !== 'string' || !Object.hasOwn(REQUESTS, method)) {
        // String() would throw for an object without a usable toString (JSON can carry { "toString": 1 }).
        throw new ApiError('unknown-method', `no such method: ${typeof method === 'string' ? method.slice(0, 40) : `(a ${typeof method})`}`);
      }
      const m = method as Method;
      const parsed = REQUESTS[m].safeParse(params ?? {});
      if (!parsed.success) {
        throw new ApiError('bad-request', issuesText(parsed.error));
      }
      const handler = this.handlers[m] as (p: unknown) => unknown;
      return { ok: true, result: await handler(parsed.data) };
    } catch (err) {
      if (err instanceof ApiError) return { ok: false, error: { code: err.code, message: err.message } };
      if (err instanceof SupervisorSessionError) return { ok: false, error: { code: 'not-signed-in', message: err.message } };
      if (err instanceof ExportError) return { ok: false, error: { code: 'refused', message: err.message } };
      if (err instanceof OverrideError) return { ok: false, error: { code: 'refused', message: err.message } };
      if (err instanceof TripRefusal) return { ok: false, error: { code: 'refused', message: err.message } };
      if (err instanceof RequestRefusal) return { ok: false, error: { code: 'refused', message: err.message } };
      this.log.error({ err, method: typeof method === 'string' ? method : undefined }, 'screen API call failed');
      return { ok: false, error: { code: 'internal', message: 'the kiosk could not complete this request' } };
    }
  }

  state(): ScreenState {
    const s = this.core.settings;
    const age = this.core.dataAge();
    return {
      apiVersion: API_VERSION,
      deviceId: s.device.id,
      checkpoint: { id: s.checkpoint.id, name: s.checkpoint.name, kind: s.checkpoint.kind, direction: s.checkpoint.direction },
      language: s.screens.language,
      timeZone: s.time.zone,
      resultSeconds: s.screens.resultSeconds,
      languageResetSeconds: s.screens.languageResetSeconds,
      camera: { ...s.screens.camera },
      link: this.core.link(),
      outbox: this.core.outbox(),
      dataAge: { ageS: age.ageS, maxAgeS: age.maxAgeS, level: dataAgeLevel(age.ageS, age.maxAgeS, age.syncs) },
      notices: this.core.notices(),
      storage: this.core.storage(),
      bus: this.core.bus?.view() ?? null,
      supervisorsConfigured: this.core.supervisor.hasSupervisors(),
      gate: this.core.gate?.() ?? { mode: 'normal' },
      enrolment: this.core.enrolment?.() ?? null,
      declarations: this.core.declarations !== undefined,
      visitors: this.core.visitors?.view() ?? null,
      nowMs: Date.now(),
    };
  }
}
