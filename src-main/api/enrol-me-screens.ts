import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Settings } from '../core/config.js';
import { API_VERSION, ApiError, REQUESTS, type EnrolmentView, type Events, type EventName, type ScreenState, type WireReply } from './contract.js';
import type { ScreenEndpoint } from './screen-service.js';
import { issuesText } from '../../base/common/validation.js';

/** What the "enrol me" screens need of the kiosk that is not enrolled; the composition root supplies it. */
export interface EnrolMeCore {
  /** The settings the kiosk runs with until it is enrolled (language, time zone, camera; no device or checkpoint of its own). */
  settings: Settings;
  view(): EnrolmentView;
  /** A code read on the screen side (camera, keyboard wedge): an enrolment code enrols, anything else is ignored. */
  submitCode(text: string): void;
}

/**
 * The core side of the renderer API while the kiosk is not enrolled: the screens ask for the state
 * (the "enrol me" view) and hand over the codes they read; there is no gate, no log and no
 * supervisor to sign in (the screens offer none). Like ScreenService, `dispatch` never throws.
 */
export class EnrolMeScreens extends EventEmitter<{ [E in keyof Events]: [Events[E]] }> {
  constructor(
    private readonly core: EnrolMeCore,
    private readonly log: Logger,
  ) {
    super();
  }

  state(): ScreenState {
    const s = this.core.settings;
    return {
      apiVersion: API_VERSION,
      deviceId: '',
      checkpoint: { id: '', name: '', kind: s.checkpoint.kind, direction: s.checkpoint.direction },
      language: s.screens.language,
      timeZone: s.time.zone,
      resultSeconds: s.screens.resultSeconds,
      languageResetSeconds: s.screens.languageResetSeconds,
      camera: { ...s.screens.camera },
      link: 'offline',
      outbox: { depth: 0, oldestUnsyncedAgeS: null },
      dataAge: { ageS: null, maxAgeS: 0, level: 'unknown' },
      notices: [],
      storage: { level: 'ok', heldEvents: 0 },
      supervisorsConfigured: false,
      gate: { mode: 'normal' },
      enrolment: this.core.view(),
      bus: null,
      declarations: false,
      visitors: null,
      nowMs: Date.now(),
    };
  }

  async dispatch(method: unknown, params: unknown): Promise<WireReply> {
    await Promise.resolve();
    try {
      if (typeof method !== 'string' || !Object.hasOwn(REQUESTS, method)) {
        throw new ApiError('unknown-method', `no such method: ${typeof method === 'string' ? method.slice(0, 40) : `(a ${typeof method})`}`);
      }
      const m = method as keyof typeof REQUESTS;
      const parsed = REQUESTS[m].safeParse(params ?? {});
      if (!parsed.success) throw new ApiError('bad-request', issuesText(parsed.error));
      switch (m) {
        case 'screen.state':
          return { ok: true, result: this.state() };
        case 'scan.submit': {
          this.core.submitCode((parsed.data as { text: string }).text);
          // No passage to show: the "enrol me" view in the state says what became of the code.
          throw new ApiError('refused', 'this kiosk is not enrolled: it decides no passes');
        }
        case 'supervisor.accounts':
          return { ok: true, result: { accounts: [] } };
        case 'supervisor.login':
          return { ok: true, result: { ok: false, reason: 'no-supervisors' } };
        default:
          throw new ApiError('not-signed-in', 'this kiosk is not enrolled: no supervisor can sign in');
      }
    } catch (err) {
      if (err instanceof ApiError) return { ok: false, error: { code: err.code, message: err.message } };
      this.log.error({ err, method: typeof method === 'string' ? method : undefined }, 'screen API call failed');
      return { ok: false, error: { code: 'internal', message: 'the kiosk could not complete this request' } };
    }
  }
}

/**
 * The screens' one endpoint for the life of `safegate run`: the loopback server (and the window on
 * it) stays while the kiosk behind it changes, from "enrol me" to the enrolled kiosk, and again at
 * each restart the kiosk asks for. Calls go to the current one; its pushed events are forwarded.
 * Between two (while one stops and the next starts) calls are refused as `internal` and retried by the screens.
 */
export class ScreenSwitch extends EventEmitter<{ [E in keyof Events]: [Events[E]] }> implements ScreenEndpoint {
  private current: ScreenEndpoint | undefined;
  private readonly forwarders = new Map<EventName, (payload: never) => void>();

  use(next: ScreenEndpoint | undefined): void {
    if (this.current) for (const [event, f] of this.forwarders) this.current.off(event, f as never);
    this.forwarders.clear();
    this.current = next;
    if (!next) return;
    const passage = (payload: Events['passage']) => this.emit('passage', payload);
    this.forwarders.set('passage', passage as (p: never) => void);
    next.on('passage', passage);
  }

  async dispatch(method: unknown, params: unknown): Promise<WireReply> {
    const target = this.current;
    if (!target) return { ok: false, error: { code: 'internal', message: 'the kiosk is restarting' } };
    return target.dispatch(method, params);
  }
}
