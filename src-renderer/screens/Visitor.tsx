import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiError, KioskApi, PassageView, ScreenState } from '../../src-main/api/contract.js';
import type { DeclarationAnswerSet } from '../../base/common/declaration.js';
import { VISIT_TEXT_MAX } from '../../base/common/visitor.js';
import { DeclarationForm, FORM_UNTOUCHED_MS, useUntouched } from './Declare.js';
import { ScanBanner } from './ScanBanner.js';

export interface VisitorFlow {
  token: string;
  name: string;
  credentialKind: 'cccd' | 'dcc';
}

type Step = 'notice' | 'host' | 'purpose' | 'declare';

/**
 * A visitor's registration after their ID card (or health certificate) was read: first what is
 * kept, why and how long (nothing is kept unless they agree; "no" forgets the scan), then whom they
 * visit and why (one tap on a listed choice, or "Other" and a few words on the on-screen keyboard),
 * then the declaration. The core's answer is the result: admitted, waiting for a supervisor, or refused.
 */
export function VisitorScreen({
  api,
  flow,
  options,
  banner,
  onSubmitting,
  onResult,
  onClose,
}: {
  api: KioskApi;
  flow: VisitorFlow;
  options: NonNullable<ScreenState['visitors']>;
  banner: PassageView | null;
  onSubmitting: (busy: boolean) => void;
  onResult: (p: PassageView) => void;
  onClose: (message?: string) => void;
}) {
  const { t, i18n } = useTranslation();
  const [step, setStep] = useState<Step>('notice');
  const [host, setHost] = useState('');
  const [purpose, setPurpose] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Said no, or walked away: the core forgets what the scan read (best effort: its token also expires).
  const forget = (message?: string) => {
    void api.call('visitor.cancel', { token: flow.token }).catch(() => undefined);
    onClose(message);
  };
  useUntouched(FORM_UNTOUCHED_MS, () => forget());

  const register = (answers: DeclarationAnswerSet) => {
    setBusy(true);
    setError(null);
    onSubmitting(true);
    api.call('visitor.register', { token: flow.token, agreed: true, host, purpose, answers }).then(
      (p) => {
        onSubmitting(false);
        onResult(p);
      },
      (err: unknown) => {
        onSubmitting(false);
        setBusy(false);
        const e = err as ApiError;
        if (e.code === 'refused') onClose(t('visitor.expired'));
        else setError(t('visitor.failed', { message: e.message }));
      },
    );
  };

  return (
    <main className="form-screen visitor" data-testid="visitor" data-step={step} role="dialog" aria-modal="true" aria-labelledby="visitor-title">
      <header className="form-title">
        <h1 id="visitor-title">{t('visitor.title')}</h1>
        <span className="form-name" data-testid="visitor-name">
          {t('visitor.hello', { name: flow.name })}
        </span>
        <button type="button" className="lang" data-testid="visitor-language" aria-label={t('app.languageLabel')} onClick={() => void i18n.changeLanguage(i18n.language === 'vi' ? 'en' : 'vi')}>
          {t('app.language')}
        </button>
      </header>
      <ScanBanner passage={banner} />
      {step === 'notice' ? (
        <section className="visitor-notice" data-testid="visitor-notice">
          <h2>{t('visitor.noticeTitle')}</h2>
          <ul className="notice-points">
            <li>{t('visitor.noticeKept')}</li>
            <li>{flow.credentialKind === 'dcc' ? t('visitor.noticeIdDcc') : t('visitor.noticeIdCccd')}</li>
            <li>
              <strong>{t('visitor.noticeNever')}</strong>
            </li>
            <li>{t('visitor.noticeWhy')}</li>
            <li data-testid="visitor-kept-days">{t('visitor.noticeHowLong', { count: options.keptDays })}</li>
          </ul>
          <footer className="form-foot">
            <button type="button" className="form-back" data-testid="visitor-decline" onClick={() => forget(t('visitor.declined'))}>
              {t('visitor.decline')}
            </button>
            <p className="form-left" />
            <button type="button" className="form-primary" data-testid="visitor-agree" onClick={() => setStep('host')}>
              {t('visitor.agree')}
            </button>
          </footer>
        </section>
      ) : step === 'host' ? (
        <PickStep
          key="host"
          testId="visitor-host"
          title={t('visitor.host')}
          typeLabel={t('visitor.otherHost')}
          choices={options.hosts}
          value={host}
          onBack={() => setStep('notice')}
          onPick={(v) => {
            setHost(v);
            setStep('purpose');
          }}
        />
      ) : step === 'purpose' ? (
        <PickStep
          key="purpose"
          testId="visitor-purpose"
          title={t('visitor.purpose')}
          typeLabel={t('visitor.otherPurpose')}
          choices={options.purposes}
          value={purpose}
          onBack={() => setStep('host')}
          onPick={(v) => {
            setPurpose(v);
            setStep('declare');
          }}
        />
      ) : (
        <DeclarationForm busy={busy} error={error} onSubmit={register} onBack={() => setStep('purpose')} backLabel={t('declare.back')} />
      )}
    </main>
  );
}

/** One tap on a listed choice, or "Other…" and a few words typed on the on-screen keyboard. */
function PickStep({
  testId,
  title,
  typeLabel,
  choices,
  value,
  onBack,
  onPick,
}: {
  testId: string;
  title: string;
  typeLabel: string;
  choices: string[];
  value: string;
  onBack: () => void;
  onPick: (value: string) => void;
}) {
  const { t } = useTranslation();
  const [typing, setTyping] = useState(() => choices.length === 0 || (value !== '' && !choices.includes(value)));
  const [text, setText] = useState(() => (choices.includes(value) ? '' : value));
  const typed = text.trim();
  return (
    <section className="visitor-pick" data-testid={testId} data-typing={typing}>
      <h2>{title}</h2>
      {typing ? (
        <div className="typing">
          <label htmlFor={`${testId}-text`}>{typeLabel}</label>
          <input id={`${testId}-text`} data-testid={`${testId}-text`} value={text} maxLength={VISIT_TEXT_MAX} autoComplete="off" onChange={(e) => setText(e.target.value)} />
          <Keyboard onKey={(k) => setText((s) => (k === '⌫' ? s.slice(0, -1) : (s + k).slice(0, VISIT_TEXT_MAX)))} />
        </div>
      ) : (
        <div className="picks">
          {choices.map((c) => (
            <button key={c} type="button" aria-pressed={value === c} data-testid={`${testId}-choice`} onClick={() => onPick(c)}>
              {c}
            </button>
          ))}
          <button type="button" className="pick-other" data-testid={`${testId}-other`} onClick={() => setTyping(true)}>
            {t('visitor.other')}
          </button>
        </div>
      )}
      <footer className="form-foot">
        <button type="button" className="form-back" data-testid={`${testId}-back`} onClick={() => (typing && choices.length ? setTyping(false) : onBack())}>
          {t('declare.back')}
        </button>
        <p className="form-left">{value ? t('visitor.chosen', { value }) : null}</p>
        {typing ? (
          <button type="button" className="form-primary" data-testid={`${testId}-done`} disabled={!typed} onClick={() => onPick(typed)}>
            {t('visitor.keyboardDone')}
          </button>
        ) : null}
      </footer>
    </section>
  );
}

/** Vietnamese letters without tone marks first need no composing; the marked vowels are a row of their own. */
const KEY_ROWS = ['1234567890', 'QWERTYUIOP', 'ASDFGHJKLĐ', 'ZXCVBNMĂÂÊ', 'ÔƠƯ.-/'];

function Keyboard({ onKey }: { onKey: (key: string) => void }) {
  const { t } = useTranslation();
  return (
    <div className="keyboard" data-testid="keyboard">
      {KEY_ROWS.map((row) => (
        <div key={row} className="keyboard-row">
          {[...row].map((k) => (
            <button key={k} type="button" data-key={k} onClick={() => onKey(k)}>
              {k}
            </button>
          ))}
          {row === KEY_ROWS[KEY_ROWS.length - 1] ? (
            <>
              <button type="button" className="key-space" data-key=" " onClick={() => onKey(' ')}>
                {t('visitor.space')}
              </button>
              <button type="button" className="key-erase" data-key="⌫" aria-label={t('visitor.erase')} onClick={() => onKey('⌫')}>
                ⌫
              </button>
            </>
          ) : null}
        </div>
      ))}
    </div>
  );
}
