import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { KioskApi, PassageView, ScreenState } from '../src-main/api/contract.js';
import { WedgeDetector } from '../device/wedge/wedge.js';
import { useCamera } from './camera/useCamera.js';
import { IdleScreen } from './screens/Idle.js';
import { ResultScreen } from './screens/Result.js';
import { SupervisorScreen } from './screens/Supervisor.js';
import { playOutcome } from './sound.js';

const STATE_POLL_MS = 2_000;

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

  useEffect(
    () =>
      api.on('passage', (p) => {
        setResult(p);
        playOutcome(p.outcome);
        clearTimeout(resultTimer.current);
        resultTimer.current = setTimeout(() => setResult(null), state.resultSeconds * 1000);
      }),
    [api, state.resultSeconds],
  );

  const submit = useCallback(
    (text: string, source: 'camera' | 'keyboard') => {
      // The decision comes back as a 'passage' event, like a serial scanner's.
      api.call('scan.submit', { text, source }).catch(() => undefined);
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
      if (code) submit(code, 'keyboard');
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [submit]);

  const camera = useCamera({
    enabled: state.camera.enabled && view === 'gate',
    decoder: state.camera.decoder,
    width: state.camera.width,
    height: state.camera.height,
    onCode: (text) => submit(text, 'camera'),
  });

  const toggleLanguage = () => void i18n.changeLanguage(i18n.language === 'vi' ? 'en' : 'vi');
  useEffect(() => {
    document.documentElement.lang = i18n.language;
  }, [i18n.language]);

  return (
    <div className="app" lang={i18n.language}>
      <header className="topbar">
        <button type="button" className="lang" data-testid="language" aria-label={t('app.languageLabel')} onClick={toggleLanguage}>
          {t('app.language')}
        </button>
        {view === 'gate' ? (
          <button type="button" className="supervisor-open" data-testid="supervisor-open" onClick={() => setView('supervisor')}>
            {t('supervisor.open')}
          </button>
        ) : null}
      </header>
      {!linkUp ? (
        <div className="transport-banner" role="alert">
          {t('idle.transport')}
        </div>
      ) : null}
      {view === 'supervisor' ? (
        <SupervisorScreen api={api} state={state} onClose={() => setView('gate')} />
      ) : (
        <IdleScreen state={state} cameraStatus={camera.status} videoRef={camera.videoRef} />
      )}
      {result && view === 'gate' ? <ResultScreen passage={result} onDone={() => setResult(null)} /> : null}
    </div>
  );
}
