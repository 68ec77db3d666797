import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, signIn, signOut, whoAmI, type Me } from './api.js';
import { setLanguage } from './i18n.js';
import { CheckpointDisplay } from './pages/CheckpointDisplay.js';
import { AlertsPage, UnacknowledgedBadge } from './pages/Alerts.js';
import { DevicesPage, EntriesPage, NoticesPage } from './pages/Operations.js';
import { OrganisationsPage } from './pages/Organisations.js';
import { AccountsPage } from './pages/Accounts.js';
import { ExportsPage } from './pages/Exports.js';
import { PassesPage } from './pages/Passes.js';
import { PersonRequestsPage } from './pages/PersonRequests.js';
import { ReportsPage } from './pages/Reports.js';
import { TracePage } from './pages/Trace.js';
import { WorkersPage } from './pages/Workers.js';

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

const PAGES = ['organisations', 'workers', 'passes', 'devices', 'entries', 'alerts', 'notices', 'exports', 'reports', 'trace', 'person', 'accounts', 'account'] as const;
/** Pages only an operator has (the API refuses the others anyway). */
const OPERATOR_PAGES: readonly PageName[] = ['person', 'accounts'];
/** Pages an operator does not have: tracing is health data (console/server/trace-routes.ts). */
const NOT_OPERATOR_PAGES: readonly PageName[] = ['trace'];
type PageName = (typeof PAGES)[number];

/** The page named by the address's #fragment, so a page can be linked to and the back button works. */
function pageFromHash(): PageName {
  const name = window.location.hash.replace(/^#\/?/, '').replace(/^alerts\/.*$/, 'alerts');
  return (PAGES as readonly string[]).includes(name) ? (name as PageName) : 'organisations';
}

/** The alert `#alerts/<id>` names (the link e-mails and webhooks carry), if any. */
function alertFromHash(): string | undefined {
  const m = /^#\/?alerts\/([a-z]-[0-9a-f]{1,32})$/.exec(window.location.hash);
  return m?.[1];
}

function Console({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const { t } = useTranslation();
  const [page, setPage] = useState<PageName>(pageFromHash);
  const [alertId, setAlertId] = useState(alertFromHash);
  useEffect(() => {
    const follow = () => (setPage(pageFromHash()), setAlertId(alertFromHash()));
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  return (
    <>
      <nav aria-label={t('nav.label')}>
        <ul>
          {PAGES.filter((p) => (me.role === 'operator' ? !NOT_OPERATOR_PAGES.includes(p) : !OPERATOR_PAGES.includes(p))).map((p) => (
            <li key={p}>
              <a href={`#${p}`} aria-current={p === page ? 'page' : undefined}>
                {t(`nav.${p}`)}
                {p === 'alerts' && <UnacknowledgedBadge />}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {page === 'organisations' && <OrganisationsPage me={me} />}
      {page === 'workers' && <WorkersPage me={me} />}
      {page === 'passes' && <PassesPage me={me} />}
      {page === 'devices' && <DevicesPage me={me} />}
      {page === 'entries' && <EntriesPage />}
      {page === 'alerts' && <AlertsPage me={me} alertId={alertId} />}
      {page === 'notices' && <NoticesPage me={me} />}
      {page === 'exports' && <ExportsPage />}
      {page === 'reports' && <ReportsPage me={me} />}
      {page === 'trace' && me.role !== 'operator' && <TracePage me={me} />}
      {page === 'person' && me.role === 'operator' && <PersonRequestsPage />}
      {page === 'accounts' && me.role === 'operator' && <AccountsPage me={me} />}
      {page === 'account' && <MePage me={me} onSignedOut={onSignedOut} />}
    </>
  );
}

/** The checkpoint whose rotating code the address asks to show full screen (`#display/<checkpoint id>`), if any. */
function displayFromHash(): string | undefined {
  const m = /^#\/?display\/(.+)$/.exec(window.location.hash);
  try {
    return m ? decodeURIComponent(m[1]!) : undefined;
  } catch {
    return undefined;
  }
}

/** Who is signed in decides the page: the sign-in form, or the console's pages for their role (or a checkpoint's display). */
export function App() {
  const { t } = useTranslation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [display, setDisplay] = useState(displayFromHash);
  useEffect(() => {
    whoAmI().then(
      (who) => setMe(who ?? null),
      () => setMe(null),
    );
    const follow = () => setDisplay(displayFromHash());
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  if (me && display !== undefined) return <CheckpointDisplay checkpointId={display} />;
  return (
    <main>
      <header>
        <h1>{t('app.title')}</h1>
        {me && (
          <span className="who" data-testid="who">
            {me.name} · {t(`role.${me.role}`)}
            {me.org ? ` · ${me.org}` : ''}
          </span>
        )}
        <LanguageSwitch />
      </header>
      {me === undefined ? <p>{t('loading')}</p> : me === null ? <LoginPage onSignedIn={setMe} /> : <Console me={me} onSignedOut={() => setMe(null)} />}
    </main>
  );
}
