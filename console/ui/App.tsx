import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, signIn, signOut, whoAmI, type Me } from './api.js';
import { setLanguage } from './i18n.js';

function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <button type="button" className="language" aria-label={t('app.languageLabel')} onClick={() => void setLanguage(i18n.language === 'en' ? 'vi' : 'en')}>
      {t('app.language')}
    </button>
  );
}

function LoginPage({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(name.trim(), password));
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      const seconds = err instanceof ApiError ? err.retryAfterSeconds : undefined;
      if (status === 429 || (status === 401 && seconds)) setError(t('login.locked', { seconds: seconds ?? 60 }));
      else if (status === 401) setError(t('login.wrong'));
      else setError(t('login.failed'));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" data-testid="login" onSubmit={(e) => void submit(e)}>
      <h2>{t('login.heading')}</h2>
      <label>
        {t('login.name')}
        <input name="name" autoComplete="username" required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        {t('login.password')}
        <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      {error && (
        <p role="alert" className="error" data-testid="login-error">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? t('login.busy') : t('login.submit')}
      </button>
    </form>
  );
}

function MePage({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const { t } = useTranslation();
  return (
    <section className="card" data-testid="me">
      <h2>{t('me.heading')}</h2>
      <dl>
        <dt>{t('me.name')}</dt>
        <dd data-testid="me-name">{me.name}</dd>
        <dt>{t('me.role')}</dt>
        <dd data-testid="me-role">{t(`role.${me.role}`)}</dd>
        {me.org && (
          <>
            <dt>{t('me.org')}</dt>
            <dd data-testid="me-org">{me.org}</dd>
          </>
        )}
      </dl>
      <button type="button" onClick={() => void signOut().finally(onSignedOut)}>
        {t('me.signOut')}
      </button>
    </section>
  );
}

/** Who is signed in decides the page: the sign-in form, or (for now) who you are and your role. */
export function App() {
  const { t } = useTranslation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  useEffect(() => {
    whoAmI().then(
      (who) => setMe(who ?? null),
      () => setMe(null),
    );
  }, []);
  return (
    <main>
      <header>
        <h1>{t('app.title')}</h1>
        <LanguageSwitch />
      </header>
      {me === undefined ? <p>{t('loading')}</p> : me === null ? <LoginPage onSignedIn={setMe} /> : <MePage me={me} onSignedOut={() => setMe(null)} />}
    </main>
  );
}
