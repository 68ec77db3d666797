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
import type { EntryLogRow, EntryLogSummary, Notice } from '../../base/common/types.js';
export { ApiError, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type ApiErrorCode, type ApiErrorShape, type WireReply } from './errors.js';

export const API_VERSION = 1;

const token = z.string().min(16).max(64);
const entryLogQuery = z
  .object({
    fromMs: z.number().int().min(0),
    toMs: z.number().int().min(0),
    search: z.string().max(80).optional(),
    decision: z.enum(['allow', 'deny', 'all']).optional(),
  })
  .strict()
  .refine((q) => q.toMs > q.fromMs && q.toMs - q.fromMs <= 32 * 86_400_000, { message: 'toMs must follow fromMs, at most 32 days later' });

/** Parameter schemas, one per method. */
export const REQUESTS = {
  'screen.state': z.object({}).strict(),
  /** A code read on the screen side: the camera decoder or a keyboard-wedge scanner. */
  'scan.submit': z.object({ text: z.string().min(1).max(4096), source: z.enum(['camera', 'keyboard']) }).strict(),
  'supervisor.login': z.object({ pin: z.string().max(64) }).strict(),
  'supervisor.logout': z.object({ token }).strict(),
  'supervisor.log': z.object({ token, query: entryLogQuery, limit: z.number().int().min(1).max(2_000).default(500) }).strict(),
  'supervisor.inside': z.object({ token }).strict(),
  'supervisor.override': z.object({ token, seq: z.number().int().positive(), note: z.string().trim().min(5).max(500) }).strict(),
  'supervisor.export': z.object({ token, query: entryLogQuery, format: z.enum(['csv', 'xlsx']), language: z.enum(['vi', 'en']) }).strict(),
} as const;

export type Method = keyof typeof REQUESTS;
export const METHODS = Object.keys(REQUESTS) as Method[];
export type Params<M extends Method> = z.input<(typeof REQUESTS)[M]>;

export type LinkView = 'online' | 'connecting' | 'offline' | 'standalone';
export type DataAgeLevel = 'ok' | 'warning' | 'too-old' | 'unknown';

export interface ScreenState {
  apiVersion: number;
  deviceId: string;
  checkpoint: { id: string; name: string; kind: string; direction: 'entry' | 'exit' | 'both' };
  language: 'vi' | 'en';
  /** The province time zone (IANA name): clocks, "today" and times on the screens follow it. */
  timeZone: string;
  resultSeconds: number;
  camera: { enabled: boolean; decoder: 'zxing-wasm' | 'zxing-js'; width: number; height: number };
  link: LinkView;
  outbox: { depth: number; oldestUnsyncedAgeS: number | null };
  /** How long since the hub last confirmed the roster; warning past half the policy limit. */
  dataAge: { ageS: number | null; maxAgeS: number; level: DataAgeLevel };
  notices: Notice[];
  /** The device's storage: `low` warns staff early; `critical` means scans are kept on the reserve or wait in memory. */
  storage: { level: 'ok' | 'low' | 'critical'; heldEvents: number };
  supervisorPinSet: boolean;
  nowMs: number;
}

/** A decision as the result screen shows it: the person's own name and the reasons, nothing more. */
export interface PassageView {
  seq: number | null;
  outcome: 'allow' | 'deny' | 'repeat';
  direction: 'entry' | 'exit';
  displayName: string | null;
  reasons: DenyReason[];
  atMs: number;
}

export type LoginView =
  | { ok: true; token: string; sessionMinutes: number }
  | { ok: false; reason: 'wrong-pin'; attemptsLeft: number }
  | { ok: false; reason: 'locked'; retryAfterS: number }
  | { ok: false; reason: 'no-pin-set' };

export interface InsideView {
  workerId: string;
  displayName: string | null;
  team: string | null;
  sinceMs: number;
}

export interface Results {
  'screen.state': ScreenState;
  'scan.submit': PassageView;
  'supervisor.login': LoginView;
  'supervisor.logout': { ok: true };
  'supervisor.log': { rows: EntryLogRow[]; total: number; summary: EntryLogSummary };
  'supervisor.inside': { workers: InsideView[] };
  'supervisor.override': PassageView;
  /** The file, base64-encoded so both transports carry it the same way. */
  'supervisor.export': { fileName: string; mimeType: string; base64: string; rows: number };
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

