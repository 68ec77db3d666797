import QRCode from 'qrcode';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, get } from '../api.js';
import { setLanguage } from '../i18n.js';
import './checkpoint-display.css';

/** What the hub answers: the code of the window holding its time, when the next is due, and its time. */
export interface RotatingCode {
  checkpointId: string;
  name: string;
  code: string;
  windowStartMs: number;
  nextAtMs: number;
  hubTimeMs: number;
}

/**
 * What the screen shows. A code is on screen only while its window lasts on the hub's clock; once it
 * ends the code is taken off at once, whether or not the next one has come (`renewing`, then
 * `offline` when the hub does not answer).
 */
type Shown =
  | { state: 'loading' }
  | { state: 'showing'; code: RotatingCode }
  | { state: 'renewing'; name: string | undefined }
  | { state: 'offline'; name: string | undefined }
  | { state: 'refused'; status: number };

/** While the hub does not answer: ask again after this long, doubling up to the most. */
const RETRY_FIRST_MS = 2_000;
const RETRY_MOST_MS = 15_000;

/** The QR's side in CSS pixels: as large as the screen allows beside (landscape) or above (portrait) its words. */
function qrSide(): number {
  const w = window.innerWidth;
  const h = window.innerHeight;
  const side = w >= h ? Math.min(h * 0.9, w * 0.56) : Math.min(w * 0.92, h * 0.6);
  return Math.max(160, Math.floor(side));
}

/** Keeps the screen on while the display runs (where the browser allows it). */
function useWakeLock(): void {
  useEffect(() => {
    type Lock = { release(): Promise<void> };
    const nav = navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<Lock> } };
    let lock: Lock | undefined;
    let live = true;
    const take = () => {
      if (document.visibilityState !== 'visible') return;
      void nav.wakeLock
        ?.request('screen')
        .then((l) => (live ? (lock = l) : void l.release()))
        .catch(() => undefined);
    };
    take();
    document.addEventListener('visibilitychange', take);
    return () => {
      live = false;
      document.removeEventListener('visibilitychange', take);
      void lock?.release().catch(() => undefined);
    };
  }, []);
}

/**
 * A full-screen display of one checkpoint's rotating check-in code (sync/hub/checkpoint-codes.ts),
 * for a tablet or a kiosk's screen at a canteen, rest area or bus: the hub signs each 30-second
 * window's code (a screen never holds the key), and the page redraws it when the window ends on the
 * hub's clock (its offset from this browser's clock is measured at each answer). It shows the
 * checkpoint, never a person.
 */
export function CheckpointDisplay({ checkpointId }: { checkpointId: string }) {
  const { t, i18n } = useTranslation();
  const [shown, setShown] = useState<Shown>({ state: 'loading' });
  const [secondsLeft, setSecondsLeft] = useState(0);
  const [side, setSide] = useState(qrSide);
  const canvas = useRef<HTMLCanvasElement>(null);
  useWakeLock();

  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    let retryMs = RETRY_FIRST_MS;
    /** The hub's clock minus this browser's, from the last answer (half the round trip counted). */
    let offsetMs = 0;
    let current: RotatingCode | undefined;
    let lastName: string | undefined;
    const hubNow = () => Date.now() + offsetMs;
    const schedule = (ms: number, then: () => void) => {
      window.clearTimeout(timer);
      timer = window.setTimeout(then, Math.max(0, ms));
    };

    const fetchCode = async () => {
      const sentAt = Date.now();
      let answer: RotatingCode;
      try {
        answer = await get<RotatingCode>(`/api/checkpoints/${encodeURIComponent(checkpointId)}/rotating-code`);
      } catch (err) {
        if (!live) return;
        const status = err instanceof ApiError ? err.status : 0;
        // Refusals that waiting does not change; anything else (no network, the hub restarting, 429, 5xx) is retried.
        if (status === 401 || status === 403 || status === 404 || status === 503) {
          current = undefined;
          setShown({ state: 'refused', status });
          return;
        }
        current = undefined;
        setShown({ state: 'offline', name: lastName });
        schedule(retryMs, () => void fetchCode());
        retryMs = Math.min(retryMs * 2, RETRY_MOST_MS);
        return;
      }
      if (!live) return;
      const receivedAt = Date.now();
      offsetMs = answer.hubTimeMs - (sentAt + receivedAt) / 2;
      retryMs = RETRY_FIRST_MS;
      lastName = answer.name;
      if (hubNow() >= answer.nextAtMs) {
        // Its window ended while the answer travelled: ask again once the hub is surely in the next.
        current = undefined;
        setShown({ state: 'renewing', name: lastName });
        schedule(250, () => void fetchCode());
        return;
      }
      current = answer;
      setShown({ state: 'showing', code: answer });
      setSecondsLeft(Math.ceil((answer.nextAtMs - hubNow()) / 1000));
      schedule(answer.nextAtMs - hubNow(), expire);
    };

    /** The window is over: the code leaves the screen now, and the next is asked for. */
    const expire = () => {
      // Once per window: the timer and the ticker may both find it over.
      if (!live || !current) return;
      window.clearTimeout(timer);
      current = undefined;
      setShown({ state: 'renewing', name: lastName });
      void fetchCode();
    };

    // The countdown, and a second guard on the window: a timer that fired late (a tab in the
    // background, a sleeping tablet) still takes the code off as soon as the page runs again.
    const tick = () => {
      if (!current) return;
      const left = current.nextAtMs - hubNow();
      if (left <= 0) expire();
      else setSecondsLeft(Math.ceil(left / 1000));
    };
    const ticker = window.setInterval(tick, 1_000);
    document.addEventListener('visibilitychange', tick);
    void fetchCode();
    return () => {
      live = false;
      window.clearTimeout(timer);
      window.clearInterval(ticker);
      document.removeEventListener('visibilitychange', tick);
    };
  }, [checkpointId]);

  useEffect(() => {
    const follow = () => setSide(qrSide());
    window.addEventListener('resize', follow);
    return () => window.removeEventListener('resize', follow);
  }, []);

  const code = shown.state === 'showing' ? shown.code : undefined;
  const draw = useCallback(async (target: HTMLCanvasElement, c: RotatingCode, size: number) => {
    // Medium error correction and a quiet zone of 4 modules, as the printed codes: a phone reads it from a metre or two.
    await QRCode.toCanvas(target, c.code, { errorCorrectionLevel: 'M', margin: 4, width: size });
    target.dataset.windowStartMs = String(c.windowStartMs);
  }, []);
  useEffect(() => {
    if (code && canvas.current) void draw(canvas.current, code, side);
  }, [code, side, draw]);

  const name = shown.state === 'showing' ? shown.code.name : shown.state === 'renewing' || shown.state === 'offline' ? shown.name : undefined;
  const fullscreen = () => void document.documentElement.requestFullscreen?.().catch(() => undefined);
  return (
    <main className="display" data-testid="checkpoint-display" data-state={shown.state}>
      <div className="display-code" style={{ width: side, height: side }}>
        {code ? (
          <canvas ref={canvas} data-testid="display-qr" aria-label={t('display.qrLabel', { name: code.name })} />
        ) : (
          <p className={`display-status ${shown.state}`} role={shown.state === 'offline' || shown.state === 'refused' ? 'alert' : 'status'} data-testid="display-status">
            {shown.state === 'loading' && t('loading')}
            {shown.state === 'renewing' && t('display.renewing')}
            {shown.state === 'offline' && t('display.offline')}
            {shown.state === 'refused' && t(`display.refused${shown.status}`, { id: checkpointId })}
          </p>
        )}
      </div>
      <div className="display-text">
        <p className="display-kind">{t('display.heading')}</p>
        <h1 data-testid="display-name">{name ?? checkpointId}</h1>
        {shown.state !== 'refused' && <p className="display-hint">{t('display.scanHint')}</p>}
        <p className="display-countdown" data-testid="display-countdown" aria-live="off">
          {code ? t('display.nextIn', { count: secondsLeft }) : '\u00a0'}
        </p>
        <div className="display-tools">
          <button type="button" onClick={fullscreen}>
            {t('display.fullscreen')}
          </button>
          <button type="button" className="language" aria-label={t('app.languageLabel')} onClick={() => void setLanguage(i18n.language === 'en' ? 'vi' : 'en')}>
            {t('app.language')}
          </button>
        </div>
      </div>
    </main>
  );
}
