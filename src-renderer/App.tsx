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
import { ResultScreen } from './screens/Result.js';
import { SupervisorScreen } from './screens/Supervisor.js';
import { playOutcome } from './sound.js';
import { ALIGHTED_AT_END_REASON, driverOutcome } from '../base/common/bus.js';

const STATE_POLL_MS = 2_000;
/** How long the supervisor target must be held. */
export const SUPERVISOR_HOLD_MS = 2_000;

/**
 * The gate never stops for the supervisor screen: the idle screen (and with it the camera) stays
 * mounted underneath it, scans are decided and their result takes the whole screen, and when the
 * result goes the supervisor screen is still there as it was.
 */
export function App({ api, initial, linkUp }: { api: KioskApi; initial: ScreenState; linkUp: boolean }) {
  const { t, i18n } = useTranslation();
  const [state, setState] = useState(initial);
  const [result, setResult] = useState<PassageView | null>(null);
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

  // A bus unit shows the driver screen: each passage is a tile there (asked for at once, not at the
  // next poll) with its own sound, never the full-screen result a gate shows the worker.
  const isBus = state.bus !== null;
  useEffect(
    () =>
      api.on('passage', (p) => {
        if (isBus) {
          // A driver card that opened or closed the trip chimes like an allow; riders alighted by the trip's end make no sound.
          if (!p.reasons.includes(ALIGHTED_AT_END_REASON)) playOutcome(p.outcome === 'repeat' ? 'repeat' : driverOutcome(p.outcome, p.reasons));
          api.call('screen.state', {}).then(setState, () => undefined);
          return;
        }
        setResult(p);
        playOutcome(p.outcome);
        clearTimeout(resultTimer.current);
        resultTimer.current = setTimeout(dismiss, state.resultSeconds * 1000);
      }),
    [api, isBus, state.resultSeconds, dismiss],
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
          <IdleScreen state={state} cameraStatus={camera.status} videoRef={camera.videoRef} covered={view !== 'gate' || emergency} />
        )}
        {emergency ? <EmergencyBanner /> : null}
        {state.enrolment?.state === 'already-enrolled' ? <AlreadyEnrolledBanner /> : null}
      </div>
      {view === 'supervisor' ? <SupervisorScreen api={api} state={state} cameraStatus={camera.status} onClose={() => setView('gate')} /> : null}
      {result && !isBus ? <ResultScreen passage={result} onDone={dismiss} /> : null}
    </div>
  );
}
