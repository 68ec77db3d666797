import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ScreenState } from '../../src-main/api/contract.js';
import type { CameraStatus } from '../camera/useCamera.js';
import { formatAge, localeOf } from '../i18n/i18n.js';

/**
 * The gate at rest. It stays mounted under the supervisor screen (`covered`), so the camera keeps
 * reading codes while a supervisor works.
 */
export function IdleScreen({
  state,
  cameraStatus,
  videoRef,
  covered,
  armed = false,
  onDeclare,
  message = null,
}: {
  state: ScreenState;
  cameraStatus: CameraStatus;
  videoRef: React.RefObject<HTMLVideoElement | null>;
  covered: boolean;
  /** "Health declaration" was pressed: the next scan opens the questions. */
  armed?: boolean;
  /** Present when this kiosk takes declarations on its screen: the button presses (and presses again to cancel). */
  onDeclare?: () => void;
  /** What became of a form that closed by itself (expired, declined), for a few seconds. */
  message?: string | null;
}) {
  const { t, i18n } = useTranslation();
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(timer);
  }, []);
  const locale = localeOf(i18n.language);
  const age = state.dataAge;
  const ageText = age.ageS === null ? t('idle.dataAge.unknown') : t(`idle.dataAge.${age.level === 'unknown' ? 'ok' : age.level}`, { age: formatAge(t, age.ageS) });
  return (
    <main className="idle" data-testid="idle" inert={covered} aria-hidden={covered}>
      <section className="checkpoint">
        <h1 data-testid="checkpoint-name">{state.checkpoint.name}</h1>
        <p className="direction">{t(`idle.${state.checkpoint.direction}`)}</p>
      </section>
      <section className="clock" aria-live="off">
        <time data-testid="clock">{now.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: state.timeZone })}</time>
        <div className="date">{now.toLocaleDateString(locale, { weekday: 'long', day: '2-digit', month: '2-digit', year: 'numeric', timeZone: state.timeZone })}</div>
      </section>
      <div className={`prompt-row${armed ? ' prompt-armed' : ''}`}>
        <p className="prompt" data-testid="prompt">
          {armed ? (state.visitors ? t('declare.armedPrompt') : t('declare.armedPromptPass')) : t('idle.prompt')}
        </p>
        {onDeclare ? (
          <button type="button" className="declare-open" data-testid="declare-open" aria-pressed={armed} aria-label={armed ? undefined : t('declare.openLabel')} onClick={onDeclare}>
            {armed ? t('declare.cancel') : t('declare.open')}
          </button>
        ) : null}
      </div>
      {message ? (
        <p className="form-message" role="status" data-testid="form-message">
          {message}
        </p>
      ) : null}
      <div className="camera">
        <video ref={videoRef} muted playsInline data-testid="camera-video" />
        <span className={`camera-status camera-${cameraStatus}`} data-testid="camera-status">
          {t(`idle.camera.${cameraStatus}`)}
        </span>
      </div>
      {state.notices.length ? (
        <section className="notices" data-testid="notices" aria-label={t('idle.notices')}>
          {state.notices.map((n) => (
            <p key={n.id} className={`notice notice-${n.priority}`}>
              {i18n.language === 'en' && n.en ? n.en : n.vi}
            </p>
          ))}
        </section>
      ) : null}
      <footer className="status">
        <span className={`link link-${state.link}`} data-testid="link">
          {t(`idle.link.${state.link}`)}
        </span>
        <span data-testid="outbox">{t('idle.outbox', { count: state.outbox.depth })}</span>
        {state.storage.level !== 'ok' || state.storage.heldEvents > 0 ? (
          <span className={`storage storage-${state.storage.level}`} data-testid="storage" role="alert">
            {state.storage.level !== 'ok' ? t(`idle.storage.${state.storage.level}`) : null}
            {state.storage.heldEvents > 0 ? ` ${t('idle.storage.held', { count: state.storage.heldEvents })}` : null}
          </span>
        ) : null}
        {state.link !== 'standalone' ? (
          <span className={`data-age data-age-${age.level}`} data-testid="data-age" role={age.level === 'too-old' ? 'alert' : undefined}>
            {ageText}
          </span>
        ) : null}
      </footer>
    </main>
  );
}
