import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiError, InsideView, KioskApi, Results, ScreenState } from '../../src-main/api/contract.js';
import type { EntryLogRow } from '../../base/common/types.js';
import { dateTimeInputIn, parseInstant, startOfDayIn } from '../../base/common/time.js';

type Tab = 'today' | 'inside' | 'denied' | 'search';

/** The supervisor screen closes (and signs out) after this long without a touch or a key. */
const UNATTENDED_MS = 120_000;


function download(fileName: string, mimeType: string, base64: string): void {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: mimeType }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function SupervisorScreen({ api, state, onClose }: { api: KioskApi; state: ScreenState; onClose: () => void }) {
  const { t } = useTranslation();
  const [token, setToken] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const fail = useCallback(
    (err: unknown) => {
      const e = err as ApiError;
      if (e.code === 'not-signed-in') {
        setToken(null);
        setMessage(t('supervisor.sessionEnded'));
      } else setMessage(t('supervisor.error', { message: e.message }));
    },
    [t],
  );

  const signOut = useCallback(() => {
    if (token) void api.call('supervisor.logout', { token }).catch(() => undefined);
    setToken(null);
    onClose();
  }, [api, token, onClose]);

  // A supervisor who walks away must not leave the log on a screen in a public place.
  useEffect(() => {
    let timer = setTimeout(signOut, UNATTENDED_MS);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(signOut, UNATTENDED_MS);
    };
    const events = ['pointerdown', 'keydown', 'wheel'] as const;
    for (const e of events) window.addEventListener(e, touch, { passive: true });
    return () => {
      clearTimeout(timer);
      for (const e of events) window.removeEventListener(e, touch);
    };
  }, [signOut]);

  return (
    <main className="supervisor" data-testid="supervisor">
      <header className="supervisor-header">
        <h1>{t('supervisor.title')}</h1>
        <span>{state.checkpoint.name}</span>
        <button type="button" data-testid="supervisor-close" onClick={signOut}>
          {token ? t('supervisor.signOut') : t('supervisor.cancel')}
        </button>
      </header>
      {message ? (
        <p className="supervisor-message" role="status" data-testid="supervisor-message">
          {message}
        </p>
      ) : null}
      {token ? (
        <Desk api={api} token={token} zone={state.timeZone} onError={fail} onMessage={setMessage} />
      ) : (
        <PinPad api={api} pinSet={state.supervisorPinSet} onSignedIn={(tk) => (setToken(tk), setMessage(null))} onMessage={setMessage} />
      )}
    </main>
  );
}

function PinPad({ api, pinSet, onSignedIn, onMessage }: { api: KioskApi; pinSet: boolean; onSignedIn: (token: string) => void; onMessage: (m: string) => void }) {
  const { t } = useTranslation();
  const [pin, setPin] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    if (busy || !pin) return;
    setBusy(true);
    try {
      const r = await api.call('supervisor.login', { pin });
      setPin('');
      if (r.ok) onSignedIn(r.token);
      else if (r.reason === 'wrong-pin') onMessage(t('supervisor.wrongPin', { count: r.attemptsLeft }));
      else if (r.reason === 'locked') onMessage(t('supervisor.locked', { minutes: Math.ceil(r.retryAfterS / 60) }));
      else onMessage(t('supervisor.noPin'));
    } catch (err) {
      onMessage(t('supervisor.error', { message: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };
  if (!pinSet) return <p className="supervisor-message">{t('supervisor.noPin')}</p>;
  return (
    <form
      className="pinpad"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <label htmlFor="pin">{t('supervisor.pinPrompt')}</label>
      <input id="pin" data-testid="pin" type="password" inputMode="numeric" autoComplete="off" maxLength={12} value={pin} onChange={(e) => setPin(e.target.value.replace(/\D/g, ''))} autoFocus />
      <div className="keys">
        {['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', 'OK'].map((k) => (
          <button
            key={k}
            type={k === 'OK' ? 'submit' : 'button'}
            data-testid={`pin-${k}`}
            disabled={busy}
            onClick={k === 'OK' ? undefined : () => setPin((p) => (k === 'C' ? '' : (p + k).slice(0, 12)))}
          >
            {k === 'C' ? t('supervisor.clear') : k === 'OK' ? t('supervisor.signIn') : k}
          </button>
        ))}
      </div>
    </form>
  );
}

function Desk({ api, token, zone, onError, onMessage }: { api: KioskApi; token: string; zone: string; onError: (e: unknown) => void; onMessage: (m: string) => void }) {
  const { t, i18n } = useTranslation();
  const [tab, setTab] = useState<Tab>('today');
  const [log, setLog] = useState<Results['supervisor.log'] | null>(null);
  const [inside, setInside] = useState<InsideView[] | null>(null);
  const [search, setSearch] = useState('');
  // "Today" and the search times are in the province time zone, whatever zone this machine is set to.
  const [from, setFrom] = useState(() => dateTimeInputIn(startOfDayIn(Date.now(), zone), zone));
  const [to, setTo] = useState(() => dateTimeInputIn(Date.now() + 3_600_000, zone));
  const [overriding, setOverriding] = useState<EntryLogRow | null>(null);

  const query = useCallback(() => {
    if (tab === 'search') {
      const at = (v: string) => {
        const ms = parseInstant(v, zone);
        return ms instanceof Error ? Number.NaN : ms;
      };
      return { fromMs: at(from), toMs: at(to), search: search || undefined, decision: 'all' as const };
    }
    return { fromMs: startOfDayIn(Date.now(), zone), toMs: Date.now() + 60_000, decision: tab === 'denied' ? ('deny' as const) : ('all' as const) };
  }, [tab, from, to, search, zone]);

  const load = useCallback(() => {
    if (tab === 'inside') {
      api.call('supervisor.inside', { token }).then((r) => setInside(r.workers), onError);
    } else {
      api.call('supervisor.log', { token, query: query(), limit: 500 }).then(setLog, onError);
    }
  }, [api, token, tab, query, onError]);

  useEffect(() => {
    if (tab !== 'search') load();
  }, [tab]); // eslint-disable-line react-hooks/exhaustive-deps -- reload on tab change only; search loads on demand

  const exportAs = (format: 'csv' | 'xlsx') =>
    api.call('supervisor.export', { token, query: query(), format, language: i18n.language === 'en' ? 'en' : 'vi' }).then((f) => {
      download(f.fileName, f.mimeType, f.base64);
      onMessage(t('supervisor.exported', { count: f.rows, file: f.fileName }));
    }, onError);

  const locale = i18n.language === 'vi' ? 'vi-VN' : 'en-GB';
  const time = (ms: number) => new Date(ms).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: zone });
  const rows = log?.rows ?? [];
  const summary = log?.summary;
  const total = log?.total ?? 0;

  return (
    <section className="desk">
      <nav className="tabs" role="tablist">
        {(['today', 'inside', 'denied', 'search'] as Tab[]).map((k) => (
          <button key={k} type="button" role="tab" aria-selected={tab === k} data-testid={`tab-${k}`} onClick={() => setTab(k)}>
            {t(`supervisor.tabs.${k}`)}
          </button>
        ))}
      </nav>
      {tab === 'search' ? (
        <form
          className="search"
          onSubmit={(e) => {
            e.preventDefault();
            load();
          }}
        >
          <input data-testid="search-text" placeholder={t('supervisor.searchPlaceholder')} value={search} maxLength={80} onChange={(e) => setSearch(e.target.value)} />
          <label>
            {t('supervisor.from')} <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            {t('supervisor.to')} <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          <button type="submit" data-testid="search-go">
            {t('supervisor.find')}
          </button>
        </form>
      ) : null}
      {tab === 'inside' ? (
        <div data-testid="inside">
          <p>{t('supervisor.insideCount', { count: inside?.length ?? 0 })}</p>
          <table>
            <thead>
              <tr>
                <th>{t('supervisor.columns.who')}</th>
                <th>{t('supervisor.columns.team')}</th>
                <th>{t('supervisor.columns.since')}</th>
              </tr>
            </thead>
            <tbody>
              {(inside ?? []).map((w) => (
                <tr key={w.workerId}>
                  <td>
                    {w.displayName ?? ''} <small>{w.workerId}</small>
                  </td>
                  <td>{w.team ?? ''}</td>
                  <td>{time(w.sinceMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <div data-testid="log">
          {summary ? <p data-testid="summary">{t('supervisor.summary', { ...summary })}</p> : null}
          <div className="export">
            <button type="button" data-testid="export-csv" onClick={() => void exportAs('csv')}>
              {t('supervisor.exportCsv')}
            </button>
            <button type="button" data-testid="export-xlsx" onClick={() => void exportAs('xlsx')}>
              {t('supervisor.exportXlsx')}
            </button>
            {total > rows.length ? <span>{t('supervisor.showing', { shown: rows.length, total })}</span> : null}
          </div>
          {rows.length === 0 ? <p>{t('supervisor.empty')}</p> : null}
          <table>
            <thead>
              <tr>
                <th>{t('supervisor.columns.time')}</th>
                <th>{t('supervisor.columns.direction')}</th>
                <th>{t('supervisor.columns.outcome')}</th>
                <th>{t('supervisor.columns.who')}</th>
                <th>{t('supervisor.columns.reasons')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.seq} data-testid="log-row" data-seq={r.seq} className={`row-${r.decision}`}>
                  <td>{time(r.atMs)}</td>
                  <td>{r.direction === 'entry' ? t('supervisor.entry') : t('supervisor.exit')}</td>
                  <td>{r.decision === 'allow' ? t('supervisor.allowed') : t('supervisor.denied')}</td>
                  <td>{r.displayName ?? (r.workerId ? r.workerId : t('supervisor.unknownPerson'))}</td>
                  <td>{r.reasons.map((c) => t(`reason.${c}`)).join('; ')}</td>
                  <td>
                    {r.decision === 'deny' && r.workerId && r.overriddenBySeq === null ? (
                      <button type="button" data-testid="override" onClick={() => setOverriding(r)}>
                        {t('supervisor.override')}
                      </button>
                    ) : r.overriddenBySeq !== null ? (
                      t('supervisor.overridden')
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {overriding ? (
        <OverrideDialog
          row={overriding}
          onCancel={() => setOverriding(null)}
          onConfirm={(note) => {
            api.call('supervisor.override', { token, seq: overriding.seq, note }).then(() => {
              setOverriding(null);
              load();
            }, onError);
          }}
        />
      ) : null}
    </section>
  );
}

function OverrideDialog({ row, onCancel, onConfirm }: { row: EntryLogRow; onCancel: () => void; onConfirm: (note: string) => void }) {
  const { t } = useTranslation();
  const [note, setNote] = useState('');
  return (
    <div className="dialog" role="dialog" aria-modal="true" data-testid="override-dialog">
      <h2>{t('supervisor.overrideTitle', { name: row.displayName ?? row.workerId ?? '' })}</h2>
      <label htmlFor="override-note">{t('supervisor.overrideReason')}</label>
      <textarea id="override-note" data-testid="override-note" maxLength={500} value={note} onChange={(e) => setNote(e.target.value)} />
      <div className="dialog-buttons">
        <button type="button" onClick={onCancel}>
          {t('supervisor.cancel')}
        </button>
        <button type="button" data-testid="override-confirm" disabled={note.trim().length < 5} onClick={() => onConfirm(note.trim())}>
          {t('supervisor.overrideConfirm')}
        </button>
      </div>
    </div>
  );
}
