import { useEffect, useLayoutEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import type { PassageView } from '../../src-main/api/contract.js';
import { ResultIcon } from './icons.js';

/**
 * Full screen, readable from a metre: colour plus a shape plus a word, so it never rests on colour
 * alone, and each kind of refusal has its own colour and shape. The name is the person's own
 * display name only. A refusal says what to do next; a health refusal says only that (discreet
 * mode: its reason is not in the view at all). A tap dismisses it; otherwise it returns by itself.
 */
/** A result as the screen shows it (`declared`: the answer to a declaration of someone already let through, PassageView.declared). */
export type ShownPassage = PassageView;

export function ResultScreen({ passage, onDone, onDeclare }: { passage: ShownPassage; onDone: () => void; onDeclare?: () => void }) {
  const { t } = useTranslation();
  const { outcome, kind } = passage;
  // A visitor waiting for a supervisor is not turned away: they wait, then scan again.
  const waiting = outcome === 'deny' && passage.reasons.includes('VISITOR_APPROVAL_PENDING');
  const headline =
    outcome === 'allow'
      ? passage.direction === 'exit'
        ? t('result.allowExit')
        : t('result.allow')
      : waiting
        ? t('result.waitApproval')
        : outcome === 'deny'
          ? t('result.deny')
          : t('result.repeat');
  const shown = passage.reasons.filter((r) => r !== 'SUPERVISOR_OVERRIDE');
  const text = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => fitText(text.current), [passage, t]);
  useEffect(() => {
    const refit = () => fitText(text.current);
    window.addEventListener('resize', refit);
    return () => window.removeEventListener('resize', refit);
  }, []);
  return (
    <div
      className={`result result-${outcome} result-kind-${kind}`}
      data-testid="result"
      data-outcome={outcome}
      data-kind={kind}
      data-seq={passage.seq ?? ''}
      data-waiting={waiting || undefined}
      role="alert"
      onClick={onDone}
    >
      <ResultIcon kind={kind} />
      <div className="result-text" ref={text}>
        <div className="result-headline" data-testid="result-headline">
          {headline}
        </div>
        {passage.displayName ? (
          <div className="result-name" data-testid="result-name">
            {passage.displayName}
          </div>
        ) : null}
        {kind === 'override' ? <p className="result-note">{t('result.override')}</p> : null}
        {passage.declared ? (
          <p className="result-note" data-testid="result-declared">
            {t('result.declared')}
          </p>
        ) : kind === 'repeat' ? (
          <p className="result-note">{t('result.repeatNote')}</p>
        ) : null}
        {outcome === 'deny' && shown.length ? (
          <ul className="result-reasons" data-testid="result-reasons">
            {shown.map((r) => (
              <li key={r}>{t(`reason.${r}`)}</li>
            ))}
          </ul>
        ) : null}
        {passage.guidance && !waiting ? (
          <p className="result-guidance" data-testid="result-guidance" data-guidance={passage.guidance}>
            {t(`guidance.${passage.guidance}`)}
          </p>
        ) : null}
        {waiting ? (
          <p className="result-note" data-testid="result-approval-note">
            {t('visitor.approvalNote')}
          </p>
        ) : null}
        {onDeclare ? (
          <button
            type="button"
            className="result-declare"
            data-testid="declare-now"
            onClick={(e) => {
              e.stopPropagation();
              onDeclare();
            }}
          >
            {t('result.declareNow')}
          </button>
        ) : null}
      </div>
    </div>
  );
}

/**
 * The sizes in the stylesheet suit a usual result; a long name or several reasons on a small panel
 * may not fit. Shrink the text (the --fit factor) until it does, before the first paint.
 */
function fitText(el: HTMLElement | null): void {
  if (!el) return;
  el.style.setProperty('--fit', '1');
  for (let fit = 1; fit > 0.35 && (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1); ) {
    fit *= 0.88;
    el.style.setProperty('--fit', fit.toFixed(3));
  }
}
