import { useEffect, useEffectEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiError, KioskApi, PassageView } from '../../src-main/api/contract.js';
import { CONTACTS, DECLARATION_QUESTIONS, SYMPTOMS, type DeclarationAnswerSet, type DeclarationQuestion } from '../../base/common/declaration.js';
import { ScanBanner } from './ScanBanner.js';

/**
 * The questions in two parts: where they went and whom they met (4), then the symptoms (7), the
 * review line and the button that sends. Every question is answered one by one (there is no "no to
 * all"): a person who answers no to everything taps 13 times (4 + Next + 7 + Send).
 */
export const DECLARE_PAGES: readonly (readonly DeclarationQuestion[])[] = [['travel', ...CONTACTS], SYMPTOMS];

/** A form nobody touches for this long is abandoned: back to the gate, nothing sent. */
export const FORM_UNTOUCHED_MS = 60_000;

type Answers = Partial<Record<DeclarationQuestion, boolean>>;

function complete(answers: Answers): DeclarationAnswerSet | null {
  return DECLARATION_QUESTIONS.every((q) => answers[q] !== undefined) ? (answers as DeclarationAnswerSet) : null;
}

/** Runs `onAbandon` once after `ms` without a touch or a key anywhere on the page. */
export function useUntouched(ms: number, onAbandon: () => void): void {
  const abandon = useEffectEvent(onAbandon);
  useEffect(() => {
    let timer = setTimeout(() => abandon(), ms);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abandon(), ms);
    };
    const events = ['pointerdown', 'keydown'] as const;
    for (const e of events) window.addEventListener(e, touch, { passive: true });
    return () => {
      clearTimeout(timer);
      for (const e of events) window.removeEventListener(e, touch);
    };
  }, [ms]);
}

/**
 * The declaration's questions, big yes/no targets, a part at a time. `onBack` on the first part
 * leaves the form (cancel, or the step before in the visitor flow).
 */
export function DeclarationForm({
  busy,
  error,
  onSubmit,
  onBack,
  backLabel,
}: {
  busy: boolean;
  error: string | null;
  onSubmit: (answers: DeclarationAnswerSet) => void;
  onBack: () => void;
  backLabel: string;
}) {
  const { t } = useTranslation();
  const [answers, setAnswers] = useState<Answers>({});
  const [page, setPage] = useState(0);
  const questions = DECLARE_PAGES[page]!;
  const last = page === DECLARE_PAGES.length - 1;
  const left = questions.filter((q) => answers[q] === undefined).length;
  const all = complete(answers);
  const yes = DECLARATION_QUESTIONS.filter((q) => answers[q] === true);
  return (
    <section className="declare-form" data-testid="declare-form" data-page={page + 1}>
      <header className="form-head">
        <h2>{page === 0 ? t('declare.pageContext') : t('declare.pageSymptoms')}</h2>
        <span className="form-step" data-testid="declare-step">
          {t('declare.step', { n: page + 1, total: DECLARE_PAGES.length })}
        </span>
      </header>
      <div className={`questions questions-${questions.length > 4 ? 'many' : 'few'}`}>
        {questions.map((q) => (
          <div key={q} className="question" role="group" aria-labelledby={`q-${q}`} data-testid={`q-${q}`} data-answer={answers[q] === undefined ? '' : answers[q] ? 'yes' : 'no'}>
            <span className="question-text" id={`q-${q}`}>
              {t(`declare.q.${q}`)}
            </span>
            <span className="answer-buttons">
              <button type="button" className="answer answer-no" aria-pressed={answers[q] === false} data-testid={`q-${q}-no`} onClick={() => setAnswers((a) => ({ ...a, [q]: false }))}>
                {t('declare.no')}
              </button>
              <button type="button" className="answer answer-yes" aria-pressed={answers[q] === true} data-testid={`q-${q}-yes`} onClick={() => setAnswers((a) => ({ ...a, [q]: true }))}>
                {t('declare.yes')}
              </button>
            </span>
          </div>
        ))}
      </div>
      <footer className="form-foot">
        <button type="button" className="form-back" data-testid="declare-back" disabled={busy} onClick={() => (page === 0 ? onBack() : setPage(page - 1))}>
          {page === 0 ? backLabel : t('declare.back')}
        </button>
        {error ? (
          <p className="form-error" role="alert" data-testid="declare-error">
            {error}
          </p>
        ) : left > 0 ? (
          <p className="form-left" data-testid="declare-left">
            {t('declare.left', { count: left })}
          </p>
        ) : last && all ? (
          <p className={`review review-${yes.length ? 'flagged' : 'clean'}`} data-testid="declare-review">
            {yes.length ? t('declare.reviewFlagged', { list: yes.map((q) => t(`declare.q.${q}`)).join(', ') }) : t('declare.reviewClean')}
          </p>
        ) : (
          <p className="form-left" />
        )}
        {last ? (
          <button type="button" className="form-primary" data-testid="declare-submit" disabled={busy || !all} onClick={() => all && onSubmit(all)}>
            {busy ? t('declare.sending') : t('declare.submit')}
          </button>
        ) : (
          <button type="button" className="form-primary" data-testid="declare-next" disabled={left > 0} onClick={() => setPage(page + 1)}>
            {t('declare.next')}
          </button>
        )}
      </footer>
    </section>
  );
}

/**
 * The declaration of the person a result named (its declareToken), over the gate: the gate keeps
 * deciding other people's scans (each shows in the banner, the form stays), and the answer of the
 * core (the scan decided again) is the next result.
 */
export function DeclareScreen({
  api,
  token,
  name,
  banner,
  onSubmitting,
  onResult,
  onClose,
}: {
  api: KioskApi;
  token: string;
  name: string | null;
  banner: PassageView | null;
  onSubmitting: (busy: boolean) => void;
  onResult: (p: PassageView) => void;
  onClose: (message?: string) => void;
}) {
  const { t, i18n } = useTranslation();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useUntouched(FORM_UNTOUCHED_MS, () => onClose());
  const submit = (answers: DeclarationAnswerSet) => {
    setBusy(true);
    setError(null);
    onSubmitting(true);
    api.call('declaration.submit', { token, answers }).then(
      (p) => {
        onSubmitting(false);
        onResult(p);
      },
      (err: unknown) => {
        onSubmitting(false);
        setBusy(false);
        const e = err as ApiError;
        // The token is used, expired or unknown: this declaration cannot be sent any more.
        if (e.code === 'refused') onClose(t('declare.expired'));
        else setError(t('declare.failed', { message: e.message }));
      },
    );
  };
  return (
    <main className="form-screen" data-testid="declare" role="dialog" aria-modal="true" aria-labelledby="declare-title">
      <header className="form-title">
        <h1 id="declare-title">{t('declare.title')}</h1>
        {name ? (
          <span className="form-name" data-testid="declare-name">
            {t('declare.forName', { name })}
          </span>
        ) : null}
        <button type="button" className="lang" data-testid="declare-language" aria-label={t('app.languageLabel')} onClick={() => void i18n.changeLanguage(i18n.language === 'vi' ? 'en' : 'vi')}>
          {t('app.language')}
        </button>
      </header>
      <ScanBanner passage={banner} />
      <DeclarationForm busy={busy} error={error} onSubmit={submit} onBack={() => onClose()} backLabel={t('declare.cancel')} />
    </main>
  );
}
