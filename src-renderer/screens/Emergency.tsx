import { useTranslation } from 'react-i18next';
import type { ScreenState } from '../../src-main/api/contract.js';

/** The gate's mode; 'emergency-open' while an emergency release holds the gate open. */
export function gateMode(state: ScreenState): ScreenState['gate']['mode'] {
  return state.gate.mode;
}

/**
 * While an emergency release holds the gate open, the public screen says so and nothing else: a
 * full-screen banner no one can read as a normal state. The supervisor screen (the roll-call of who
 * is inside) and scan results still come above it.
 */
export function EmergencyBanner() {
  const { t } = useTranslation();
  return (
    <div className="emergency" role="alert" data-testid="emergency">
      <div className="emergency-text">
        <p className="emergency-title">{t('emergency.title')}</p>
        <p className="emergency-detail">{t('emergency.detail')}</p>
      </div>
    </div>
  );
}
