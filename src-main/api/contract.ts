/**
 * The renderer API: every call the screens make to the kiosk core and every event the core pushes,
 * declared once. The Electron preload (IPC) and the loopback transport (WebSocket on 127.0.0.1)
 * both carry exactly this contract, and one contract test suite runs against both.
 *
 * Requests are validated at the door with these schemas (the renderer is untrusted input); results
 * are typed for the renderer, which imports this file for its types only.
 */
import { z } from 'zod';
import type { DenyReason } from '../../base/common/reasons.js';
import type { HubLinkView } from '../../base/common/hub-link.js';
import type { EntryLogRow, EntryLogSummary, Notice } from '../../base/common/types.js';
import type { SelftestResult } from '../../base/common/selftest.js';
import type { EnrolFailure } from '../../base/common/enrolment.js';
import type { BusView } from '../../base/common/bus.js';
import { DECLARATION_QUESTIONS, type DeclarationQuestion } from '../../base/common/declaration.js';
import { VISIT_TEXT_MAX, VISITOR_ID_PATTERN, type VisitorView } from '../../base/common/visitor.js';
import { DRIVE_ID_PATTERN, DRIVE_ID_RULE, SUPERVISOR_ID_PATTERN, SUPERVISOR_ID_RULE, identifierSchema, workerIdSchema } from '../../base/common/ids.js';
import { DEFAULT_TRACE_WINDOW_MIN, MAX_TRACE_DAYS, TRACE_WINDOWS_MIN, type TraceCandidate, type TraceResult } from '../../base/common/kiosk-trace.js';
import { OTHER_NOTE_MIN, OVERRIDE_NOTE_MAX, OVERRIDE_REASON_CODES } from '../../base/common/policy/override.js';
export { ApiError, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type ApiErrorCode, type ApiErrorShape, type WireReply } from './errors.js';

export const API_VERSION = 1;

const token = z.string().min(16).max(64);
const supervisorId = z.string().regex(SUPERVISOR_ID_PATTERN, SUPERVISOR_ID_RULE);
const driveId = z.string().regex(DRIVE_ID_PATTERN, DRIVE_ID_RULE);
/** A yes/no for every question, nothing else (no free text at the kiosk). */
const declarationAnswers = z
  .object(Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, z.boolean()])) as Record<DeclarationQuestion, z.ZodBoolean>)
  .strict();
const visitText = z.string().trim().min(1).max(VISIT_TEXT_MAX);
const entryLogQuery = z
  .object({
    fromMs: z.number().int().min(0),
    toMs: z.number().int().min(0),
    search: z.string().max(80).optional(),
    decision: z.enum(['allow', 'deny', 'all']).optional(),
    /** Exports only: the roll-call of who is inside now (fire drill, end of shift), whatever the window. */
    insideNow: z.boolean().optional(),
  })
  .strict()
  .refine((q) => q.toMs > q.fromMs && q.toMs - q.fromMs <= 32 * 86_400_000, { message: 'toMs must follow fromMs, at most 32 days later' });

/** Parameter schemas, one per method. */
export const REQUESTS = {
  'screen.state': z.object({}).strict(),
  /** A code read on the screen side: the camera decoder or a keyboard-wedge scanner. */
  'scan.submit': z.object({ text: z.string().min(1).max(4096), source: z.enum(['camera', 'keyboard']) }).strict(),
  /** The named supervisors the PIN pad lists to pick from (names only). */
  'supervisor.accounts': z.object({}).strict(),
  'supervisor.login': z.object({ supervisorId, pin: z.string().max(64) }).strict(),
  'supervisor.logout': z.object({ token }).strict(),
  'supervisor.log': z.object({ token, query: entryLogQuery, limit: z.number().int().min(1).max(2_000).default(500) }).strict(),
  'supervisor.inside': z.object({ token }).strict(),
  /**
   * The offline trace: `search` (an id or a name) lists the workers it matches, traced at once when
   * it is exactly one; `workerId` (one picked from that list) traces that worker. Window in minutes either side.
   */
  'supervisor.trace': z
    .object({
      token,
      search: z.string().max(80).default(''),
      workerId: workerIdSchema.optional(),
      fromMs: z.number().int().min(0),
      toMs: z.number().int().min(0),
      windowMinutes: z
        .number()
        .int()
        .refine((m) => (TRACE_WINDOWS_MIN as readonly number[]).includes(m), { message: `the window is one of ${TRACE_WINDOWS_MIN.join(', ')} minutes` })
        .default(DEFAULT_TRACE_WINDOW_MIN),
    })
    .strict()
    .refine((q) => q.toMs > q.fromMs && q.toMs - q.fromMs <= MAX_TRACE_DAYS * 86_400_000, {
      message: `toMs must follow fromMs, at most ${MAX_TRACE_DAYS} days later`,
    })
    .refine((q) => q.workerId !== undefined || q.search.trim() !== '', { message: 'give a worker to trace: search or workerId', path: ['search'] }),
  /** A reason picked from the fixed list; the note is optional, and required (5+ characters) for 'other'. */
  'supervisor.override': z
    .object({
      token,
      seq: z.number().int().positive(),
      reasonCode: z.enum(OVERRIDE_REASON_CODES),
      note: z.string().trim().max(OVERRIDE_NOTE_MAX).optional(),
    })
    .strict()
    .refine((p) => p.reasonCode !== 'other' || (p.note ?? '').length >= OTHER_NOTE_MIN, {
      message: `a note of at least ${OTHER_NOTE_MIN} characters is required when the reason is 'other'`,
      path: ['note'],
    }),
  /** Removable drives plugged into the kiosk, to export to, and whether the hub can be sent exports. */
  'supervisor.drives': z.object({ token }).strict(),
  /**
   * Without `driveId` or `toHub` the file comes back to the screen; with `driveId`, it is written to
   * that drive, which is then safe to remove; with `toHub`, it is sent to the hub console (kept on the
   * kiosk to send again when the hub refuses it or cannot be reached).
   */
  'supervisor.export': z
    .object({ token, query: entryLogQuery, format: z.enum(['csv', 'xlsx']), language: z.enum(['vi', 'en']), driveId: driveId.optional(), toHub: z.literal(true).optional() })
    .strict()
    .refine((p) => p.driveId === undefined || p.toHub === undefined, { message: 'an export goes to a drive or to the hub, not both', path: ['toHub'] }),
  /** Sends again the exports waiting on this kiosk for the hub. */
  'supervisor.sendWaiting': z.object({ token }).strict(),
  /** The kiosk's self-test, run by the running kiosk on its own live objects (`safegate selftest`'s checks). */
  'supervisor.selftest': z.object({ token }).strict(),
  // The driver screen of a bus unit (base/common/bus.ts); refused (code `refused`) on any other checkpoint.
  /** Opens a trip (the big button); with several routes, `routeId` is the one the driver chose. Refused while a trip is open. */
  'bus.startTrip': z.object({ routeId: identifierSchema.optional() }).strict(),
  /** Ends the open trip (the big button): riders still aboard alight with it. Refused when none is open. */
  'bus.endTrip': z.object({}).strict(),
  /** Sets the open trip's route (a trip a rider's first scan opened has none yet). */
  'bus.chooseRoute': z.object({ routeId: identifierSchema }).strict(),
  // The gate for everyone (issue 14).
  /**
   * A health declaration made on this screen by the person a recent result named (`token`:
   * PassageView.declareToken, used once). The core records it, then decides that person's scan again
   * and answers with the new result (admitted, or refused DECLARATION_FLAGGED with an alert).
   */
  'declaration.submit': z.object({ token, answers: declarationAnswers }).strict(),
  /**
   * A visitor registers after their ID card or certificate was scanned (`token`: PassageView.visitor.token).
   * `agreed` is the visitor's yes to the notice of what is kept, why and how long (logged with its
   * version); nothing is kept before it. Answers with the decision (admitted, waiting for approval,
   * or refused for the declaration).
   */
  'visitor.register': z.object({ token, agreed: z.literal(true), host: visitText, purpose: visitText, answers: declarationAnswers }).strict(),
  /** The visitor said no, or walked away: what the scan read is forgotten now. */
  'visitor.cancel': z.object({ token }).strict(),
  /** Visitors registered today here: waiting for approval, approved, inside, left. */
  'supervisor.visitors': z.object({ token }).strict(),
  /** A signed-in (named) supervisor approves or refuses a waiting visitor. */
  'supervisor.decideVisitor': z.object({ token, visitorId: z.string().regex(VISITOR_ID_PATTERN), approve: z.boolean() }).strict(),
} as const;

export type Method = keyof typeof REQUESTS;
export const METHODS = Object.keys(REQUESTS) as Method[];
export type Params<M extends Method> = z.input<(typeof REQUESTS)[M]>;

/** The hub link as the screens show it; `safegate status` shows the same (base/common/hub-link.ts). */
export type LinkView = HubLinkView;
export type DataAgeLevel = 'ok' | 'warning' | 'too-old' | 'unknown';

/**
 * A kiosk that is not enrolled ("enrol me" mode): it decides nothing and waits for the enrolment code
 * IT staff bring. `needed`: waiting for a code; `enrolling`: a code was scanned and the hub is being
 * asked; `failed`: the last code was refused (`reason`; the kiosk still waits for a code);
 * `already-enrolled`: an enrolled kiosk was shown an enrolment code and ignored it (never re-enrols at the gate).
 * No token, address or key ever travels here.
 */
export interface EnrolmentView {
  state: 'needed' | 'enrolling' | 'failed' | 'already-enrolled';
  reason?: EnrolFailure;
  /** The device id the scanned code names (enrolling, failed). */
  deviceId?: string;
  /** When the state last changed. */
  sinceMs: number;
}

export interface ScreenState {
  apiVersion: number;
  deviceId: string;
  checkpoint: { id: string; name: string; kind: string; direction: 'entry' | 'exit' | 'both' };
  language: 'vi' | 'en';
  /** The province time zone (IANA name): clocks, "today" and times on the screens follow it. */
  timeZone: string;
  resultSeconds: number;
  /** After a worker switches language, the screens return to `language` after each result and after this long untouched. */
  languageResetSeconds: number;
  camera: { enabled: boolean; decoder: 'combined' | 'zxing-wasm' | 'zxing-js'; width: number; height: number };
  link: LinkView;
  outbox: { depth: number; oldestUnsyncedAgeS: number | null };
  /** How long since the hub last confirmed the roster; warning past half the policy limit. */
  dataAge: { ageS: number | null; maxAgeS: number; level: DataAgeLevel };
  notices: Notice[];
  /** The device's storage: `low` warns staff early; `critical` means scans are kept on the reserve or wait in memory. */
  storage: { level: 'ok' | 'low' | 'critical'; heldEvents: number };
  /** At least one named supervisor can sign in on this kiosk. */
  supervisorsConfigured: boolean;
  /**
   * The gate itself: `emergency-open` while the emergency release holds it open (a fire alarm); scans
   * are still decided and logged, but everyone may pass. The screens say so.
   */
  gate: { mode: 'normal' | 'emergency-open' };
  /**
   * Not null while the kiosk is not enrolled (the screens show only the "enrol me" view: the other
   * fields are placeholders), or for a short while after an enrolled kiosk refused an enrolment code.
   */
  enrolment: EnrolmentView | null;
  /** A bus unit's trip, occupancy, last scans and GPS (the driver screen); null on any other checkpoint. */
  bus: BusView | null;
  /** This kiosk takes health declarations on its screen (false on a unit without one). */
  declarations: boolean;
  /** Visitor registration here: the lists to pick from and whether a supervisor must approve; null when visitors are not taken here. */
  visitors: { hosts: string[]; purposes: string[]; approvalRequired: boolean; keptDays: number } | null;
  nowMs: number;
}

/**
 * What kind of result the public screen shows; its colour, icon and words follow it. A refusal's
 * kind is its reason's category (base/common/reasons.ts): credential, procedure, health or device.
 */
export type PassageKind = 'allow' | 'override' | 'repeat' | 'credential' | 'procedure' | 'health' | 'device';

/** What the public screen tells a refused person to do next (the words are the screens'). */
export const GUIDANCE = [
  'see-guard',
  'medical-room',
  'renew-pass',
  'wait-until-valid',
  'scan-again',
  'use-qr-pass',
  'see-office',
  'scan-out-first',
  'call-supervisor',
  'use-own-gate',
  'refresh-phone-pass',
  'set-phone-time',
] as const;
export type Guidance = (typeof GUIDANCE)[number];

/**
 * A decision as the public result screen shows it, to everyone in the queue: the person's own name,
 * the kind of result and what to do next. In discreet mode (the default) a health reason never
 * travels here at all (a health refusal carries kind 'health' and a guidance code); a signed-in
 * supervisor reads the reason in the entry log.
 */
export interface PassageView {
  seq: number | null;
  outcome: 'allow' | 'deny' | 'repeat';
  direction: 'entry' | 'exit';
  displayName: string | null;
  kind: PassageKind;
  /** Reasons the public screen may show in words. */
  reasons: DenyReason[];
  guidance: Guidance | null;
  atMs: number;
  /**
   * Present when the person this result names may make a health declaration on this screen now
   * ('declaration.submit'): memory only, used once, valid DECLARE_TOKEN_TTL_MS.
   */
  declareToken?: string;
  /**
   * The answer to a declaration ('declaration.submit') that decided no passage: the scan before it had
   * let the person through, or found them inside already; recorded, nothing more (outcome 'repeat').
   */
  declared?: true;
  /**
   * Present when an ID card or a health certificate of someone not yet registered was scanned and
   * they may register here ('visitor.register'): the name read (shown to them), memory only.
   */
  visitor?: { token: string; name: string; credentialKind: 'cccd' | 'dcc'; expiresAtMs: number };
}

export interface SupervisorAccount {
  id: string;
  name: string;
}

/**
 * A sign-in's answer. `lockoutS` says how long the supervisor will be locked out once the attempts
 * left run out (it grows with each lockout in a row); `retryAfterS` how long the lockout still lasts.
 */
export type LoginView =
  | { ok: true; token: string; sessionMinutes: number; supervisor: SupervisorAccount }
  | { ok: false; reason: 'wrong-pin'; attemptsLeft: number; lockoutS: number }
  | { ok: false; reason: 'locked'; retryAfterS: number; lockedUntilMs: number }
  | { ok: false; reason: 'unknown-supervisor' }
  /** The right PIN, but of 4 or 5 digits (kept by the upgrade to named supervisors): a new one must be set first. */
  | { ok: false; reason: 'pin-change-required' }
  | { ok: false; reason: 'no-supervisors' };

/** A removable drive the kiosk can write an export to. */
export interface DriveView {
  id: string;
  /** The filesystem label, or the vendor and model when it has none. */
  label: string;
  sizeBytes: number | null;
}

export type ExportView =
  /** The file itself, base64-encoded so both transports carry it the same way. */
  | { target: 'download'; fileName: string; mimeType: string; base64: string; rows: number }
  /** Written to the drive, synced and unmounted: the drive can be pulled out. */
  | { target: 'drive'; fileName: string; rows: number; drive: DriveView; safeToRemove: boolean }
  /** Stored by the hub (`already-stored`: a copy sent before had arrived). */
  | { target: 'hub'; fileName: string; rows: number; exportId: string; status: 'stored' | 'already-stored' };

export type { SelftestResult, SelftestStatus, SelftestCheckName } from '../../base/common/selftest.js';
export type { BusView, DriverTile, GpsView, TripTrigger } from '../../base/common/bus.js';
export type { VisitorView, VisitorState } from '../../base/common/visitor.js';
export type { DeclarationAnswerSet, DeclarationQuestion } from '../../base/common/declaration.js';
export type { TraceCandidate, TraceContact, TraceNeighbour, TracePassage, TraceResult, TraceVisitor } from '../../base/common/kiosk-trace.js';

export interface InsideView {
  /** A roster worker's id, or a visitor's pseudonym (then `visitor` is true). */
  workerId: string;
  displayName: string | null;
  team: string | null;
  sinceMs: number;
  visitor?: true;
}

export interface Results {
  'screen.state': ScreenState;
  'scan.submit': PassageView;
  'supervisor.accounts': { accounts: SupervisorAccount[] };
  'supervisor.login': LoginView;
  'supervisor.logout': { ok: true };
  'supervisor.log': { rows: EntryLogRow[]; total: number; summary: EntryLogSummary };
  'supervisor.inside': { workers: InsideView[] };
  /** `trace` is null when the search matched none or several (then pick one of `candidates`). */
  'supervisor.trace': { candidates: TraceCandidate[]; trace: TraceResult | null };
  'supervisor.override': PassageView;
  /** `hub`: exports can be sent to the hub; `hubWaiting`: how many wait on the kiosk to be sent again. */
  'supervisor.drives': { drives: DriveView[]; hub: boolean; hubWaiting: number };
  'supervisor.export': ExportView;
  'supervisor.sendWaiting': { sent: number; waiting: number };
  /** One result per check, in the fixed order (base/common/selftest.ts); `atMs`: when it ran. */
  'supervisor.selftest': { results: SelftestResult[]; atMs: number };
  'bus.startTrip': BusView;
  'bus.endTrip': BusView;
  'bus.chooseRoute': BusView;
  'declaration.submit': PassageView;
  'visitor.register': PassageView;
  'visitor.cancel': { ok: true };
  'supervisor.visitors': { visitors: VisitorView[] };
  'supervisor.decideVisitor': VisitorView;
}

export interface Events {
  passage: PassageView;
}
export type EventName = keyof Events;

/** What the renderer holds, whatever the transport. */
export interface KioskApi {
  call<M extends Method>(method: M, params: Params<M>): Promise<Results[M]>;
  /** Returns a function that removes the listener. */
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void;
}

