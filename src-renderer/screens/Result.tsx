import { useTranslation } from 'react-i18next';
import type { PassageView } from '../../src-main/api/contract.js';

/**
 * Full screen, readable from a metre: colour plus a large icon plus a word, so it never rests on
 * colour alone. A deny lists every reason in plain words; the name is the person's own display
 * name only. A tap dismisses it; otherwise it returns to idle by itself.
 */
export function ResultScreen({ passage, onDone }: { passage: PassageView; onDone: () => void }) {
  const { t } = useTranslation();
  const { outcome } = passage;
  const overridden = passage.reasons.includes('SUPERVISOR_OVERRIDE');
  const headline =
    outcome === 'allow' ? (passage.direction === 'exit' ? t('result.allowExit') : t('result.allow')) : outcome === 'deny' ? t('result.deny') : t('result.repeat');
  const icon = outcome === 'allow' ? '✔' : outcome === 'deny' ? '✖' : '↺';
  return (
    <div className={`result result-${outcome}`} data-testid="result" data-outcome={outcome} data-seq={passage.seq ?? ''} role="alert" onClick={onDone}>
      <div className="result-icon" aria-hidden="true">
        {icon}
      </div>
      <div className="result-headline" data-testid="result-headline">
        {headline}
      </div>
      <div className="result-name" data-testid="result-name">
        {passage.displayName ?? (outcome === 'deny' ? t('result.unknownPerson') : '')}
      </div>
      {overridden ? <p className="result-override">{t('result.override')}</p> : null}
      {outcome === 'deny' ? (
        <div className="result-reasons">
          <p>{t('result.reasonsTitle')}</p>
          <ul data-testid="result-reasons">
            {passage.reasons.map((r) => (
              <li key={r} data-reason={r}>
                {t(`reason.${r}`)}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
