import { useCallback, useEffect, useEffectEvent, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiError, DriveView, ExportView, InsideView, KioskApi, Results, ScreenState, SupervisorAccount } from '../../src-main/api/contract.js';
import type { EntryLogRow } from '../../base/common/types.js';
import { OTHER_NOTE_MIN, OVERRIDE_NOTE_MAX, OVERRIDE_REASON_CODES, OVERRIDE_REASONS, type OverrideReasonCode } from '../../base/common/policy/override.js';
import { dateTimeInputIn, parseInstant, startOfDayIn } from '../../base/common/time.js';
import type { CameraStatus } from '../camera/useCamera.js';
import { formatDateTime } from '../i18n/i18n.js';
import { SelftestPanel } from './SupervisorSelftest.js';
import { TracePanel } from './SupervisorTrace.js';
import { VisitorsPanel } from './SupervisorVisitors.js';

type Tab = 'today' | 'inside' | 'denied' | 'search' | 'visitors' | 'trace' | 'selftest';
const TABS: Tab[] = ['today', 'inside', 'denied', 'search', 'visitors', 'trace', 'selftest'];
/** The export target "the hub" in the drive list (a drive id never holds a colon). */
const TO_HUB = ':hub';

/** The supervisor screen closes (and signs out) after this long without a touch or a key. */
const UNATTENDED_MS = 120_000;
/** A burst of scans refreshes an open view once. */
const LIVE_REFRESH_MS = 300;
const DRIVES_POLL_MS = 5_000;

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

/**
 * The supervisor's screen, over the gate: the gate underneath keeps scanning, and a scan's result
 * covers this screen for a moment and leaves it as it was.
 */
export function SupervisorScreen({ api, state, cameraStatus, onClose }: { api: KioskApi; state: ScreenState; cameraStatus: CameraStatus; onClose: () => void }) {
  const { t, i18n } = useTranslation();
  const [session, setSession] = useState<{ token: string; supervisor: SupervisorAccount } | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const token = session?.token ?? null;

  const fail = useCallback(
    (err: unknown) => {
      const e = err as ApiError;
      if (e.code === 'not-signed-in') {
        setSession(null);
        setMessage(t('supervisor.sessionEnded'));
      } else setMessage(t('supervisor.error', { message: e.message }));
    },
    [t],
  );

  const signOut = useCallback(() => {
    if (token) void api.call('supervisor.logout', { token }).catch(() => undefined);
    setSession(null);
    onClose();
  }, [api, token, onClose]);

  // A supervisor who walks away must not leave the log on a screen in a public place. Only a touch
  // or a key starts the wait again: the screen re-renders at every state poll (2 s) and every scan
  // (with a new onClose and so a new signOut), and a timer started again on each render never ran out.
  const unattended = useEffectEvent(() => signOut());
  useEffect(() => {
    let timer = setTimeout(() => unattended(), UNATTENDED_MS);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => unattended(), UNATTENDED_MS);
    };
    const events = ['pointerdown', 'keydown', 'wheel'] as const;
    for (const e of events) window.addEventListener(e, touch, { passive: true });
    return () => {
      clearTimeout(timer);
      for (const e of events) window.removeEventListener(e, touch);
    };
  }, []);

  return (
    <main className="supervisor" data-testid="supervisor">
      <header className="supervisor-header">
        <h1>{t('supervisor.title')}</h1>
        <span className="supervisor-place">{state.checkpoint.name}</span>
        {session ? (
          <span className="supervisor-who" data-testid="supervisor-who">
            {session.supervisor.name}
          </span>
        ) : null}
        <span className={`gate-live gate-live-${cameraStatus}`} data-testid="gate-live">
          {t('supervisor.gateLive')}
        </span>
        <button type="button" className="lang" data-testid="supervisor-language" aria-label={t('app.languageLabel')} onClick={() => void i18n.changeLanguage(i18n.language === 'vi' ? 'en' : 'vi')}>
          {t('app.language')}
        </button>
        <button type="button" data-testid="supervisor-close" onClick={signOut}>
          {token ? t('supervisor.signOut') : t('supervisor.cancel')}
        </button>
      </header>
      {message ? (
        <p className="supervisor-message" role="status" data-testid="supervisor-message">
          {message}
        </p>
      ) : null}
      {session ? (
        <Desk api={api} token={session.token} zone={state.timeZone} visitorsHere={state.visitors !== null} onError={fail} onMessage={setMessage} />
      ) : (
        <SignIn
          api={api}
          configured={state.supervisorsConfigured}
          onSignedIn={(s) => {
            setSession(s);
            setMessage(null);
          }}
          onMessage={setMessage}
        />
      )}
    </main>
  );
}

function SignIn({
  api,
  configured,
  onSignedIn,
  onMessage,
}: {
  api: KioskApi;
  configured: boolean;
  onSignedIn: (s: { token: string; supervisor: SupervisorAccount }) => void;
  onMessage: (m: string) => void;
}) {
  const { t } = useTranslation();
  const [accounts, setAccounts] = useState<SupervisorAccount[] | null>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const [pin, setPin] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!configured) return;
    api.call('supervisor.accounts', {}).then(
      (r) => {
        setAccounts(r.accounts);
        if (r.accounts.length === 1) setChosen(r.accounts[0]!.id);
      },
      (err: unknown) => onMessage(t('supervisor.error', { message: (err as Error).message })),
    );
  }, [api, configured, onMessage, t]);

  const submit = async () => {
    if (busy || !pin || !chosen) return;
    setBusy(true);
    try {
      const r = await api.call('supervisor.login', { supervisorId: chosen, pin });
      setPin('');
      if (r.ok) onSignedIn({ token: r.token, supervisor: r.supervisor });
      else if (r.reason === 'wrong-pin') onMessage(t('supervisor.wrongPin', { count: r.attemptsLeft }));
      else if (r.reason === 'locked') onMessage(t('supervisor.locked', { minutes: Math.ceil(r.retryAfterS / 60) }));
      else if (r.reason === 'unknown-supervisor') onMessage(t('supervisor.unknownSupervisor'));
      else if (r.reason === 'pin-change-required') onMessage(t('supervisor.pinChangeRequired'));
      else onMessage(t('supervisor.noSupervisors'));
    } catch (err) {
      onMessage(t('supervisor.error', { message: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };
  if (!configured) return <p className="supervisor-message">{t('supervisor.noSupervisors')}</p>;
  return (
    <form
      className="signin"
      data-testid="signin"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <fieldset className="accounts">
        <legend>{t('supervisor.who')}</legend>
        <div className="account-list">
          {(accounts ?? []).map((a) => (
            <button key={a.id} type="button" className="account" data-testid={`account-${a.id}`} aria-pressed={chosen === a.id} onClick={() => setChosen(a.id)}>
              {a.name}
            </button>
          ))}
        </div>
      </fieldset>
      <div className="pinpad">
        <label htmlFor="pin">{t('supervisor.pinPrompt')}</label>
        <input id="pin" data-testid="pin" type="password" inputMode="numeric" autoComplete="off" maxLength={12} value={pin} onChange={(e) => setPin(e.target.value.replace(/\D/g, ''))} />
        <div className="keys">
          {['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', 'OK'].map((k) => (
            <button
              key={k}
              type={k === 'OK' ? 'submit' : 'button'}
              data-testid={`pin-${k}`}
              disabled={busy || (k === 'OK' && !chosen)}
              onClick={k === 'OK' ? undefined : () => setPin((p) => (k === 'C' ? '' : (p + k).slice(0, 12)))}
            >
              {k === 'C' ? t('supervisor.clear') : k === 'OK' ? t('supervisor.signIn') : k}
            </button>
          ))}
        </div>
      </div>
    </form>
  );
}

type Query = { fromMs: number; toMs: number; search?: string; decision: 'all' | 'deny' };

function Desk({
  api,
  token,
  zone,
  visitorsHere,
  onError,
  onMessage,
}: {
  api: KioskApi;
  token: string;
  zone: string;
  /** Visitors register at this kiosk: the Visitors tab. */
  visitorsHere: boolean;
  onError: (e: unknown) => void;
  onMessage: (m: string) => void;
}) {
  const { t, i18n } = useTranslation();
  const [tab, setTab] = useState<Tab>('today');
  // Each view's rows are its own: a tab never shows the rows another tab loaded.
  const [log, setLog] = useState<{ tab: Tab; result: Results['supervisor.log'] } | null>(null);
  const [inside, setInside] = useState<{ workers: InsideView[]; atMs: number } | null>(null);
  const [search, setSearch] = useState('');
  // "Today" and the search times are in the province time zone, whatever zone this machine is set to.
  const [from, setFrom] = useState(() => dateTimeInputIn(startOfDayIn(Date.now(), zone), zone));
  const [to, setTo] = useState(() => dateTimeInputIn(Date.now() + 3_600_000, zone));
  /** The search as last run (the live refresh repeats it, the export uses it); null before the first. */
  const [searched, setSearched] = useState<Query | null>(null);
  const [overriding, setOverriding] = useState<EntryLogRow | null>(null);
  const [drives, setDrives] = useState<DriveView[]>([]);
  const [driveId, setDriveId] = useState<string>('');
  const [hub, setHub] = useState<{ enabled: boolean; waiting: number }>({ enabled: false, waiting: 0 });

  const queryFor = useCallback(
    (k: Tab): Query | null => {
      if (k === 'search') return searched;
      return { fromMs: startOfDayIn(Date.now(), zone), toMs: Date.now() + 60_000, decision: k === 'denied' ? 'deny' : 'all' };
    },
    [searched, zone],
  );

  const load = useCallback(
    (k: Tab) => {
      // The trace and the self-test run when asked (their own tabs), not on every scan; the visitors tab loads its own list.
      if (k === 'trace' || k === 'selftest' || k === 'visitors') return;
      if (k === 'inside') {
        api.call('supervisor.inside', { token }).then((r) => setInside({ workers: r.workers, atMs: Date.now() }), onError);
        return;
      }
      const q = queryFor(k);
      if (!q) return;
      api.call('supervisor.log', { token, query: q, limit: 500 }).then((result) => setLog({ tab: k, result }), onError);
    },
    [api, token, queryFor, onError],
  );

  useEffect(() => load(tab), [tab, load]);

  // Live: a scan anywhere at this gate refreshes the open view.
  const loadRef = useRef(() => load(tab));
  useEffect(() => {
    loadRef.current = () => load(tab);
  }, [load, tab]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = api.on('passage', () => {
      clearTimeout(timer);
      timer = setTimeout(() => loadRef.current(), LIVE_REFRESH_MS);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [api]);

  useEffect(() => {
    let stopped = false;
    const poll = () =>
      api.call('supervisor.drives', { token }).then(
        (r) => {
          if (stopped) return;
          setDrives(r.drives);
          setHub({ enabled: r.hub, waiting: r.hubWaiting });
          setDriveId((id) => ((id === TO_HUB && r.hub) || r.drives.some((d) => d.id === id) ? id : (r.drives[0]?.id ?? '')));
        },
        () => undefined,
      );
    void poll();
    const timer = setInterval(() => void poll(), DRIVES_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [api, token]);

  const runSearch = () => {
    const at = (v: string) => {
      const ms = parseInstant(v, zone);
      return ms instanceof Error ? Number.NaN : ms;
    };
    setSearched({ fromMs: at(from), toMs: at(to), search: search.trim() || undefined, decision: 'all' });
  };

  const exported = (f: ExportView) => {
    if (f.target === 'download') {
      download(f.fileName, f.mimeType, f.base64);
      onMessage(t('supervisor.exported', { count: f.rows, file: f.fileName }));
    } else if (f.target === 'hub') {
      onMessage(t('supervisor.sentToHub', { count: f.rows, file: f.fileName }));
    } else {
      onMessage(t(f.safeToRemove ? 'supervisor.exportedToDrive' : 'supervisor.exportedToDriveBusy', { count: f.rows, file: f.fileName, drive: f.drive.label }));
    }
  };
  const exportAs = (format: 'csv' | 'xlsx') => {
    const q = tab === 'inside' ? { ...queryFor('today')!, insideNow: true } : queryFor(tab);
    if (!q) return;
    const language = i18n.language === 'en' ? 'en' : 'vi';
    const target = driveId === TO_HUB ? { toHub: true as const } : driveId ? { driveId } : {};
    // A refused or unreached hub leaves the export waiting on the kiosk: the count of waiting ones is refreshed either way.
    const refreshWaiting = () => api.call('supervisor.drives', { token }).then((r) => setHub({ enabled: r.hub, waiting: r.hubWaiting }), () => undefined);
    api
      .call('supervisor.export', { token, query: q, format, language, ...target })
      .then(exported, onError)
      .finally(() => void (driveId === TO_HUB && refreshWaiting()));
  };
  const sendWaiting = () => {
    api.call('supervisor.sendWaiting', { token }).then(
      (r) => {
        setHub((h) => ({ ...h, waiting: r.waiting }));
        onMessage(t('supervisor.sentWaiting', { count: r.sent }));
      },
      (err: unknown) => {
        onError(err as ApiError);
        api.call('supervisor.drives', { token }).then((r) => setHub({ enabled: r.hub, waiting: r.hubWaiting }), () => undefined);
      },
    );
  };

  const when = (ms: number) => formatDateTime(ms, zone);
  const current = log?.tab === tab ? log.result : null;
  const rows = current?.rows ?? [];

  const exportBar = (
    <div className="export" data-testid="export-bar">
      {drives.length || hub.enabled ? (
        <label className="drive">
          {t('supervisor.exportTo')}{' '}
          <select data-testid="export-drive" value={driveId} onChange={(e) => setDriveId(e.target.value)}>
            {drives.map((d) => (
              <option key={d.id} value={d.id}>
                {d.label}
              </option>
            ))}
            {hub.enabled ? <option value={TO_HUB}>{t('supervisor.toHub')}</option> : null}
            <option value="">{t('supervisor.thisScreen')}</option>
          </select>
        </label>
      ) : null}
      {hub.waiting > 0 ? (
        <button type="button" data-testid="export-send-waiting" onClick={sendWaiting}>
          {t('supervisor.sendWaiting', { count: hub.waiting })}
        </button>
      ) : null}
      <button type="button" data-testid="export-csv" onClick={() => exportAs('csv')}>
        {t('supervisor.exportCsv')}
      </button>
      <button type="button" data-testid="export-xlsx" onClick={() => exportAs('xlsx')}>
        {t('supervisor.exportXlsx')}
      </button>
    </div>
  );

  return (
    <section className="desk">
      <nav className="tabs" role="tablist">
        {TABS.filter((k) => k !== 'visitors' || visitorsHere).map((k) => (
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
            runSearch();
          }}
        >
          <input data-testid="search-text" placeholder={t('supervisor.searchPlaceholder')} value={search} maxLength={80} onChange={(e) => setSearch(e.target.value)} />
          <label>
            {t('supervisor.from')} <input type="datetime-local" data-testid="search-from" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            {t('supervisor.to')} <input type="datetime-local" data-testid="search-to" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          <button type="submit" data-testid="search-go">
            {t('supervisor.find')}
          </button>
        </form>
      ) : null}
      {tab === 'visitors' ? (
        <VisitorsPanel api={api} token={token} zone={zone} onError={onError} onMessage={onMessage} />
      ) : tab === 'trace' ? (
        <TracePanel api={api} token={token} zone={zone} onError={onError} />
      ) : tab === 'selftest' ? (
        <SelftestPanel api={api} token={token} zone={zone} onError={onError} />
      ) : tab === 'inside' ? (
        <div className="rollcall" data-testid="inside">
          <div className="toolbar">
            <p className="count" data-testid="inside-count">
              {t('supervisor.insideCount', { count: inside?.workers.length ?? 0 })}
            </p>
            <button type="button" data-testid="print" onClick={() => window.print()}>
              {t('supervisor.print')}
            </button>
            {exportBar}
          </div>
          <p className="print-only print-title">
            {inside ? t('supervisor.rollCallTitle', { when: when(inside.atMs) }) : null}
          </p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>{t('supervisor.columns.who')}</th>
                  <th>{t('supervisor.columns.id')}</th>
                  <th>{t('supervisor.columns.team')}</th>
                  <th>{t('supervisor.columns.since')}</th>
                  <th className="print-only">{t('supervisor.columns.check')}</th>
                </tr>
              </thead>
              <tbody>
                {(inside?.workers ?? []).map((w) => (
                  <tr key={w.workerId} data-testid="inside-row">
                    <td>{w.displayName ?? ''}</td>
                    <td>{w.workerId}</td>
                    <td>{w.team ?? ''}</td>
                    <td>{when(w.sinceMs)}</td>
                    <td className="print-only check" />
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : (
        <div className="log" data-testid="log">
          <div className="toolbar">
            {current ? (
              <p className="count" data-testid="summary">
                {t('supervisor.summary', { ...current.summary })}
                {current.total > rows.length ? ` · ${t('supervisor.showing', { shown: rows.length, total: current.total })}` : ''}
              </p>
            ) : null}
            {current ? exportBar : null}
          </div>
          {tab === 'search' && !searched ? <p data-testid="search-hint">{t('supervisor.searchHint')}</p> : current && rows.length === 0 ? <p>{t('supervisor.empty')}</p> : null}
          {current ? (
            <div className="table-wrap">
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
                      <td className="when">{when(r.atMs)}</td>
                      <td>{r.direction === 'entry' ? t('supervisor.entry') : t('supervisor.exit')}</td>
                      <td className="outcome">{r.decision === 'allow' ? t('supervisor.allowed') : t('supervisor.denied')}</td>
                      <td>{r.displayName ?? (r.workerId ? r.workerId : t('supervisor.unknownPerson'))}</td>
                      <td>
                        {r.reasons.map((c) => t(`reason.${c}`)).join('; ')}
                        {r.override ? <small className="override-by"> {t('supervisor.overrideBy', { name: r.override.supervisorName ?? '—', reason: overrideReasonText(r.override.reasonCode, i18n.language) })}</small> : null}
                      </td>
                      <td>
                        {r.decision === 'deny' && r.overriddenBySeq !== null ? (
                          t('supervisor.overridden')
                        ) : r.decision === 'deny' && r.overridable ? (
                          <button type="button" data-testid="override" onClick={() => setOverriding(r)}>
                            {t('supervisor.override')}
                          </button>
                        ) : r.decision === 'deny' && r.workerId ? (
                          <small data-testid="not-overridable">{t('supervisor.notOverridable')}</small>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </div>
      )}
      {overriding ? (
        <OverrideDialog
          row={overriding}
          onCancel={() => setOverriding(null)}
          onConfirm={(reasonCode, note) => {
            api.call('supervisor.override', { token, seq: overriding.seq, reasonCode, ...(note ? { note } : {}) }).then(() => {
              setOverriding(null);
              load(tab);
            }, onError);
          }}
        />
      ) : null}
    </section>
  );
}

function overrideReasonText(code: string, language: string): string {
  const r = (OVERRIDE_REASONS as Record<string, { vi: string; en: string } | undefined>)[code];
  return r ? r[language === 'en' ? 'en' : 'vi'] : code;
}

/**
 * Letting a refused person through: why they were refused, that the gate opens at once, a reason
 * picked with one touch (a note is optional, except for "other"), then a second, explicit step.
 */
export function OverrideDialog({ row, onCancel, onConfirm }: { row: EntryLogRow; onCancel: () => void; onConfirm: (reason: OverrideReasonCode, note: string) => void }) {
  const { t, i18n } = useTranslation();
  const [reason, setReason] = useState<OverrideReasonCode | null>(null);
  const [note, setNote] = useState('');
  const [confirming, setConfirming] = useState(false);
  const name = row.displayName ?? row.workerId ?? '';
  const ready = reason !== null && (reason !== 'other' || note.trim().length >= OTHER_NOTE_MIN);
  return (
    <div className="dialog-backdrop">
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="override-title" data-testid="override-dialog" data-step={confirming ? 'confirm' : 'reason'}>
        <h2 id="override-title">{t('supervisor.overrideTitle', { name })}</h2>
        <div className="dialog-body">
          <p className="refused-because" data-testid="override-refused">
            {t('supervisor.refusedBecause')} <strong>{row.reasons.map((c) => t(`reason.${c}`)).join('; ')}</strong>
          </p>
          <p className="opens-at-once" data-testid="override-opens">
            {t('supervisor.opensAtOnce')}
          </p>
          {confirming ? (
            <p className="confirm-text" data-testid="override-summary">
              {t('supervisor.overrideSummary', { name, reason: overrideReasonText(reason ?? 'other', i18n.language) })}
              {note.trim() ? ` — ${note.trim()}` : ''}
            </p>
          ) : (
            <>
              <fieldset className="reason-picks">
                <legend>{t('supervisor.overridePick')}</legend>
                {OVERRIDE_REASON_CODES.map((code) => (
                  <button key={code} type="button" data-testid={`override-reason-${code}`} aria-pressed={reason === code} onClick={() => setReason(code)}>
                    {overrideReasonText(code, i18n.language)}
                  </button>
                ))}
              </fieldset>
              <label htmlFor="override-note">{reason === 'other' ? t('supervisor.overrideNoteRequired', { min: OTHER_NOTE_MIN }) : t('supervisor.overrideNote')}</label>
              <textarea id="override-note" data-testid="override-note" rows={2} maxLength={OVERRIDE_NOTE_MAX} value={note} onChange={(e) => setNote(e.target.value)} />
            </>
          )}
        </div>
        <div className="dialog-buttons">
          {confirming ? (
            <>
              <button type="button" data-testid="override-back" onClick={() => setConfirming(false)}>
                {t('supervisor.back')}
              </button>
              <button type="button" className="danger" data-testid="override-confirm" onClick={() => reason && onConfirm(reason, note.trim())}>
                {t('supervisor.overrideConfirm')}
              </button>
            </>
          ) : (
            <>
              <button type="button" data-testid="override-cancel" onClick={onCancel}>
                {t('supervisor.cancel')}
              </button>
              <button type="button" data-testid="override-next" disabled={!ready} onClick={() => setConfirming(true)}>
                {t('supervisor.next')}
              </button>
            </>
          )}
        </div>
      </div>
    </div>
  );
}
