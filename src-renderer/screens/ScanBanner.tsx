import { useTranslation } from 'react-i18next';
import type { PassageView } from '../../src-main/api/contract.js';

/**
 * Someone else's scan while a form is open: a compact line with their name and the outcome (colour
 * plus a symbol plus a word), never a reason; the form underneath stays as it was. The app clears
 * it after the result time.
 */
export function ScanBanner({ passage }: { passage: PassageView | null }) {
  const { t } = useTranslation();
  if (!passage) return <div className="scan-banner scan-banner-empty" aria-hidden="true" />;
  const word =
    passage.outcome === 'allow' ? (passage.direction === 'exit' ? t('banner.allowExit') : t('banner.allow')) : passage.outcome === 'deny' ? t('banner.deny') : t('banner.repeat');
  const name = passage.displayName ?? passage.visitor?.name ?? t('banner.nobody');
  return (
    <div className={`scan-banner scan-banner-${passage.outcome}`} role="status" data-testid="scan-banner" data-outcome={passage.outcome} data-seq={passage.seq ?? ''}>
      <span className="scan-banner-label">{t('banner.label')}:</span>
      <strong className="scan-banner-word">{word}</strong>
      <span className="scan-banner-name" data-testid="scan-banner-name">
        {name}
      </span>
      {passage.visitor ? <span className="scan-banner-note">({t('banner.visitorWait')})</span> : null}
    </div>
  );
}
