import { useTranslation } from 'react-i18next';
import type { EnrolmentView } from '../../src-main/api/contract.js';
import type { CameraStatus } from '../camera/useCamera.js';

/**
 * The kiosk is not enrolled: it says so, and what to do (scan the enrolment code IT brings), and how
 * the last code fared. The camera keeps reading codes (an enrolment code is a QR code too). No token,
 * address or key is shown: the state carries none.
 */
export function EnrolMeScreen({ view, cameraStatus, videoRef }: { view: EnrolmentView; cameraStatus: CameraStatus; videoRef: React.RefObject<HTMLVideoElement | null> }) {
  const { t } = useTranslation();
  return (
    <main className="enrol-me" data-testid="enrol-me" data-state={view.state}>
      <section className="enrol-text">
        <h1 data-testid="enrol-prompt">{t('enrol.prompt')}</h1>
        <p className="enrol-hint">{t('enrol.hint')}</p>
        {view.state === 'enrolling' ? (
          <p className="enrol-progress" role="status" data-testid="enrol-progress">
            {t('enrol.enrolling')}
          </p>
        ) : null}
        {view.state === 'failed' ? (
          <div className="enrol-failed" role="alert" data-testid="enrol-failed">
            <p className="enrol-failed-title">{t('enrol.failed')}</p>
            {view.reason ? <p data-testid="enrol-reason">{t(`enrol.reason.${view.reason}`)}</p> : null}
            {view.reason === 'ENROLMENT_DAMAGED' ? null : <p>{t('enrol.retry')}</p>}
          </div>
        ) : null}
        {view.deviceId && view.state !== 'needed' ? (
          <p className="enrol-device" data-testid="enrol-device">
            {t('enrol.device', { id: view.deviceId })}
          </p>
        ) : null}
      </section>
      <div className="camera">
        <video ref={videoRef} muted playsInline data-testid="camera-video" />
        <span className={`camera-status camera-${cameraStatus}`} data-testid="camera-status">
          {t(`idle.camera.${cameraStatus}`)}
        </span>
      </div>
    </main>
  );
}

/** An enrolled kiosk was shown an enrolment code: it ignores it, and says so for a while. */
export function AlreadyEnrolledBanner() {
  const { t } = useTranslation();
  return (
    <div className="enrol-already" role="alert" data-testid="enrol-already">
      {t('enrol.alreadyEnrolled')}
    </div>
  );
}
