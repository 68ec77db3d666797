import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { KioskApi, PassageView, ScreenState } from '../src-main/api/contract.js';
import { ENROLMENT_CODE_PREFIX } from '../base/common/enrolment.js';
import { WedgeDetector } from '../device/wedge/wedge.js';
import { useCamera } from './camera/useCamera.js';
import { LongPressButton } from './LongPress.js';
import { EmergencyBanner, gateMode } from './screens/Emergency.js';
import { AlreadyEnrolledBanner, EnrolMeScreen } from './screens/EnrolMe.js';
import { DriverScreen } from './screens/Driver.js';
import { IdleScreen } from './screens/Idle.js';
import { ResultScreen, type ShownPassage } from './screens/Result.js';
import { SupervisorScreen } from './screens/Supervisor.js';
import { DeclareScreen } from './screens/Declare.js';
import { VisitorScreen, type VisitorFlow } from './screens/Visitor.js';
import { playOutcome } from './sound.js';
import { ALIGHTED_AT_END_REASON, driverOutcome } from '../base/common/bus.js';
import { isSensitive } from '../base/common/reasons.js';

const STATE_POLL_MS = 2_000;
/** How long the supervisor target must be held. */
export const SUPERVISOR_HOLD_MS = 2_000;
/** After "Health declaration" on the idle screen, the next scan opens the questions for this long. */
export const DECLARE_ARMED_MS = 60_000;
/** A result that offers "Declare now" stays at least this long (the person reads it, then taps). */
const DECLARE_OFFER_MS = 15_000;
/** A message after a form closed by itself (expired, declined). */
const FORM_MESSAGE_MS = 6_000;

type Flow = { kind: 'declare'; token: string; name: string | null } | ({ kind: 'visitor' } & VisitorFlow);

/**
 * Whether a refusal offers "Declare now": the person may declare here (the core gave a token) and
 * the refusal is for a missing declaration. Never for a flagged one: it stands for the rest of the
 * day, so the core gives no token then and the screen shows the discreet refusal only. In discreet
 * mode the screen does not know which health reason it was, so every health refusal with a token
 * offers it: the queue cannot tell from the button why.
 */
export function offersDeclaration(p: PassageView): boolean {
  if (!p.declareToken || p.outcome !== 'deny' || p.kind !== 'health') return false;
  const health = p.reasons.filter(isSensitive);
  return health.length === 0 || (health.includes('DECLARATION_MISSING') && !health.includes('DECLARATION_FLAGGED'));
}

/**
 * The gate never stops for the supervisor screen: the idle screen (and with it the camera) stays
 * mounted underneath it, scans are decided and their result takes the whole screen, and when the
 * result goes the supervisor screen is still there as it was.
 */
export function App({ api, initial, linkUp }: { api: KioskApi; initial: ScreenState; linkUp: boolean }) {
  const { t, i18n } = useTranslation();
  const [state, setState] = useState(initial);
  const [result, setResult] = useState<ShownPassage | null>(null);
  const [view, setView] = useState<'gate' | 'supervisor'>('gate');
  const resultTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    const timer = setInterval(() => {
      api.call('screen.state', {}).then(setState, () => undefined);
    }, STATE_POLL_MS);
    return () => clearInterval(timer);
  }, [api]);

  // The next worker reads the kiosk's own language: a switch lasts until the result, or a short while.
  const defaultLanguage = state.language;
  const resetLanguage = useCallback(() => {
    if (i18n.language !== defaultLanguage) void i18n.changeLanguage(defaultLanguage);
  }, [i18n, defaultLanguage]);
  const viewRef = useRef(view);
  useEffect(() => {
    viewRef.current = view;
  }, [view]);

  const dismiss = useCallback(() => {
    clearTimeout(resultTimer.current);
    setResult(null);
    if (viewRef.current === 'gate') resetLanguage();
  }, [resetLanguage]);

  // A declaration or a visitor's registration open over the gate (issue 14). While one is open the
  // gate keeps deciding other people's scans: each shows in a banner on the form, not over it.
  const [flow, setFlow] = useState<Flow | null>(null);
  const flowRef = useRef(flow);
  useEffect(() => {
    flowRef.current = flow;
  }, [flow]);
  const [banner, setBanner] = useState<PassageView | null>(null);
  const bannerTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const [formMessage, setFormMessage] = useState<string | null>(null);
  const messageTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // "Health declaration" on the idle screen: the next scan with a token opens the questions.
  const [armed, setArmed] = useState(false);
  const armedRef = useRef(armed);
  useEffect(() => {
    armedRef.current = armed;
    if (!armed) return;
    const timer = setTimeout(() => setArmed(false), DECLARE_ARMED_MS);
    return () => clearTimeout(timer);
  }, [armed]);
  // A form being sent: the core decides the person's scan again and its passage event may come before
  // the answer. Events meanwhile wait here; the one the answer is (same seq) is shown once, as the answer.
  const sending = useRef<{ active: boolean; held: PassageView[] }>({ active: false, held: [] });
  const answered = useRef<number[]>([]);

  const showResult = useCallback(
    (p: ShownPassage) => {
      setResult(p);
      clearTimeout(resultTimer.current);
      const ms = offersDeclaration(p) ? Math.max(state.resultSeconds * 1000, DECLARE_OFFER_MS) : state.resultSeconds * 1000;
      resultTimer.current = setTimeout(dismiss, ms);
    },
    [state.resultSeconds, dismiss],
  );

  const openFlow = useCallback((f: Flow) => {
    clearTimeout(resultTimer.current);
    setResult(null);
    setArmed(false);
    setBanner(null);
    setFormMessage(null);
    setFlow(f);
  }, []);

  const closeFlow = useCallback(
    (message?: string) => {
      setFlow(null);
      setBanner(null);
      clearTimeout(messageTimer.current);
      setFormMessage(message ?? null);
      if (message) messageTimer.current = setTimeout(() => setFormMessage(null), FORM_MESSAGE_MS);
      if (viewRef.current === 'gate') resetLanguage();
    },
    [resetLanguage],
  );

  // A bus unit shows the driver screen: each passage is a tile there (asked for at once, not at the
  // next poll) with its own sound, never the full-screen result a gate shows the worker.
  const isBus = state.bus !== null;
  const onPassage = useCallback(
    (p: PassageView) => {
      if (isBus) {
        // A driver card that opened or closed the trip chimes like an allow; riders alighted by the trip's end make no sound.
        if (!p.reasons.includes(ALIGHTED_AT_END_REASON)) playOutcome(p.outcome === 'repeat' ? 'repeat' : driverOutcome(p.outcome, p.reasons));
        api.call('screen.state', {}).then(setState, () => undefined);
        return;
      }
      if (p.seq !== null && answered.current.includes(p.seq)) return;
      if (sending.current.active) {
        sending.current.held.push(p);
        return;
      }
      if (flowRef.current) {
        playOutcome(p.outcome);
        setBanner(p);
        clearTimeout(bannerTimer.current);
        bannerTimer.current = setTimeout(() => setBanner(null), state.resultSeconds * 1000);
        return;
      }
      // An ID card or certificate of someone not registered: straight to their registration (a short tone, not the refusal's buzz).
      if (p.visitor && state.visitors) {
        playOutcome('repeat');
        openFlow({ kind: 'visitor', ...p.visitor });
        return;
      }
      if (armedRef.current && p.declareToken && p.outcome !== 'repeat') {
        playOutcome('repeat');
        openFlow({ kind: 'declare', token: p.declareToken, name: p.displayName });
        return;
      }
      if (p.outcome !== 'repeat') setArmed(false);
      playOutcome(p.outcome);
      showResult(p);
    },
    [api, isBus, state.resultSeconds, state.visitors, openFlow, showResult],
  );
  useEffect(() => api.on('passage', onPassage), [api, onPassage]);

  const formSending = useCallback(
    (busy: boolean) => {
      if (busy) {
        sending.current = { active: true, held: [] };
        return;
      }
      // Failed: what came meanwhile is shown now, on the form still open.
      const { held } = sending.current;
      sending.current = { active: false, held: [] };
      queueMicrotask(() => {
        if (flowRef.current) for (const p of held) onPassage(p);
      });
    },
    [onPassage],
  );

  const formAnswered = useCallback(
    (answer: PassageView) => {
      const { held } = sending.current;
      sending.current = { active: false, held: [] };
      if (answer.seq !== null) answered.current = [...answered.current.slice(-15), answer.seq];
      // Someone already let through (or inside) who declared from the idle button: the core decides
      // nothing again and says so (`declared`): the screen says their declaration is recorded.
      const p: ShownPassage = answer;
      setFlow(null);
      setBanner(null);
      playOutcome(p.outcome);
      showResult(p);
      // Other people's scans while it was being sent (milliseconds): the latest shows after this one.
      const others = held.filter((h) => h.seq === null || h.seq !== answer.seq);
      if (others.length) setTimeout(() => onPassage(others[others.length - 1]!), Math.min(state.resultSeconds, 3) * 1000);
    },
    [showResult, onPassage, state.resultSeconds],
  );

  useEffect(() => {
    if (view !== 'gate' || i18n.language === defaultLanguage) return;
    let timer = setTimeout(resetLanguage, state.languageResetSeconds * 1000);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(resetLanguage, state.languageResetSeconds * 1000);
    };
    const events = ['pointerdown', 'keydown'] as const;
    for (const e of events) window.addEventListener(e, touch, { passive: true });
    return () => {
      clearTimeout(timer);
      for (const e of events) window.removeEventListener(e, touch);
    };
  }, [view, i18n.language, defaultLanguage, state.languageResetSeconds, resetLanguage]);

  // Read through a ref: `submit` (and with it the keyboard-wedge detector) stays the same across state polls.
  const enrolling = useRef(state.enrolment !== null);
  useEffect(() => {
    enrolling.current = state.enrolment !== null;
  }, [state.enrolment]);
  const submit = useCallback(
    (text: string, source: 'camera' | 'keyboard') => {
      // The decision comes back as a 'passage' event, like a serial scanner's; what became of an
      // enrolment code is in the state, asked for at once.
      api
        .call('scan.submit', { text, source })
        .catch(() => undefined)
        .finally(() => {
          if (enrolling.current || text.startsWith(ENROLMENT_CODE_PREFIX)) api.call('screen.state', {}).then(setState, () => undefined);
        });
    },
    [api],
  );

  // Keyboard-wedge scanners, whenever no text field has the focus.
  useEffect(() => {
    const wedge = new WedgeDetector();
    const onKey = (ev: KeyboardEvent) => {
      const target = ev.target as HTMLElement | null;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return;
      const code = wedge.key(ev.key, ev.timeStamp);
      if (!code) return;
      // The scanner's Enter ends the scan; it must not also press the button last tapped (the language switch).
      ev.preventDefault();
      submit(code, 'keyboard');
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [submit]);

  const camera = useCamera({
    // The driver screen has no camera view: a bus reads codes with its scanner.
    enabled: state.camera.enabled && state.bus === null,
    decoder: state.camera.decoder,
    width: state.camera.width,
    height: state.camera.height,
    onCode: (text) => submit(text, 'camera'),
    surface: state.enrolment && state.enrolment.state !== 'already-enrolled' ? 'enrol' : 'gate',
  });

  const toggleLanguage = () => void i18n.changeLanguage(i18n.language === 'vi' ? 'en' : 'vi');
  useEffect(() => {
    document.documentElement.lang = i18n.language;
  }, [i18n.language]);

  const emergency = gateMode(state) === 'emergency-open';
  // Not enrolled: only the "enrol me" screen (no gate, no supervisor, no results).
  const enrolMe = state.enrolment && state.enrolment.state !== 'already-enrolled' ? state.enrolment : null;
  if (enrolMe) {
    return (
      <div className="app view-enrol" lang={i18n.language}>
        <header className="topbar">
          <button type="button" className="lang" data-testid="language" aria-label={t('app.languageLabel')} onClick={toggleLanguage}>
            {t('app.language')}
          </button>
        </header>
        {!linkUp ? (
          <div className="transport-banner" role="alert">
            {t('idle.transport')}
          </div>
        ) : null}
        <div className="stage">
          <EnrolMeScreen view={enrolMe} cameraStatus={camera.status} videoRef={camera.videoRef} />
        </div>
      </div>
    );
  }

  return (
    <div className={`app view-${view}`} lang={i18n.language}>
      <header className="topbar" inert={view !== 'gate'}>
        <button type="button" className="lang" data-testid="language" aria-label={t('app.languageLabel')} onClick={toggleLanguage}>
          {t('app.language')}
        </button>
        <LongPressButton holdMs={SUPERVISOR_HOLD_MS} onActivate={() => setView('supervisor')} label={t('supervisor.openLabel')} className="supervisor-open" testId="supervisor-open">
          {t('supervisor.open')}
        </LongPressButton>
      </header>
      {!linkUp ? (
        <div className="transport-banner" role="alert">
          {t('idle.transport')}
        </div>
      ) : null}
      <div className="stage">
        {state.bus ? (
          <DriverScreen api={api} state={state} covered={view !== 'gate' || emergency} onBus={(bus) => setState((s) => ({ ...s, bus }))} />
        ) : (
          <IdleScreen
            state={state}
            cameraStatus={camera.status}
            videoRef={camera.videoRef}
            covered={view !== 'gate' || emergency || flow !== null}
            armed={armed}
            onDeclare={state.declarations && !emergency ? () => setArmed((a) => !a) : undefined}
            message={formMessage}
          />
        )}
        {emergency ? <EmergencyBanner /> : null}
        {state.enrolment?.state === 'already-enrolled' ? <AlreadyEnrolledBanner /> : null}
      </div>
      {view === 'supervisor' ? <SupervisorScreen api={api} state={state} cameraStatus={camera.status} onClose={() => setView('gate')} /> : null}
      {flow?.kind === 'declare' ? (
        <DeclareScreen api={api} token={flow.token} name={flow.name} banner={banner} onSubmitting={formSending} onResult={formAnswered} onClose={closeFlow} />
      ) : flow?.kind === 'visitor' && state.visitors ? (
        <VisitorScreen api={api} flow={flow} options={state.visitors} banner={banner} onSubmitting={formSending} onResult={formAnswered} onClose={closeFlow} />
      ) : null}
      {result && !isBus ? (
        <ResultScreen
          passage={result}
          onDone={dismiss}
          onDeclare={
            offersDeclaration(result)
              ? () => {
                  openFlow({ kind: 'declare', token: result.declareToken!, name: result.displayName });
                }
              : undefined
          }
        />
      ) : null}
    </div>
  );
}
