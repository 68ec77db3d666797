import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { KioskApi, Results, TraceContact, TraceNeighbour, TraceVisitor } from '../../src-main/api/contract.js';
import { DEFAULT_TRACE_DAYS, DEFAULT_TRACE_WINDOW_MIN, TRACE_WINDOWS_MIN, type TraceWindowMinutes } from '../../base/common/kiosk-trace.js';
import { formatDateTime } from '../i18n/i18n.js';

const DAY_MS = 86_400_000;
/** The periods to pick from, in days back from now (the log keeps 28 by default). */
const PERIOD_DAYS = [7, DEFAULT_TRACE_DAYS, 28] as const;

/** A time gap as minutes and seconds, "4:05"; with `signed`, "−4:05" before and "+4:05" after. */
function gapText(ms: number, signed = false): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const text = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return signed ? `${ms < 0 ? '−' : '+'}${text}` : text;
}

/**
 * The Trace tab: for a worker, who passed this checkpoint within a window around each of their
 * passages, from this kiosk's own log (the answer comes from the kiosk core: no network). It shows
 * who was near and when, never why anyone was refused.
 */
/** One list of people near the worker (let in, or only refused): who, how often, how close, when last. Nothing when empty. */
function PeopleTable({ people, testId, rowTestId, caption, when }: { people: readonly TraceContact[]; testId: string; rowTestId: string; caption: string; when: (ms: number) => string }) {
  const { t } = useTranslation();
  if (people.length === 0) return null;
  return (
    <table data-testid={testId}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th>{t('supervisor.columns.who')}</th>
          <th>{t('supervisor.columns.id')}</th>
          <th>{t('supervisor.columns.team')}</th>
          <th>{t('supervisor.trace.columns.times')}</th>
          <th>{t('supervisor.trace.columns.closest')}</th>
          <th>{t('supervisor.trace.columns.last')}</th>
        </tr>
      </thead>
      <tbody>
        {people.map((c) => (
          <tr key={c.workerId} data-testid={rowTestId} data-worker={c.workerId}>
            <td>{c.displayName ?? ''}</td>
            <td>{c.workerId}</td>
            <td>{c.team ?? ''}</td>
            <td>{c.times}</td>
            <td className="when">{gapText(c.closestGapMs)}</td>
            <td className="when">{when(c.lastAtMs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Visitors (issue 14) who passed near the worker: by the name and visit registered at this kiosk, then the pseudonym. */
function VisitorsTable({ visitors, when }: { visitors: readonly TraceVisitor[]; when: (ms: number) => string }) {
  const { t } = useTranslation();
  if (visitors.length === 0) return null;
  return (
    <table data-testid="trace-visitors">
      <caption>{t('supervisor.trace.visitors')}</caption>
      <thead>
        <tr>
          <th>{t('supervisor.columns.who')}</th>
          <th>{t('supervisor.trace.visitorHost')}</th>
          <th>{t('supervisor.columns.id')}</th>
          <th>{t('supervisor.trace.columns.times')}</th>
          <th>{t('supervisor.trace.columns.closest')}</th>
          <th>{t('supervisor.trace.columns.last')}</th>
        </tr>
      </thead>
      <tbody>
        {visitors.map((v) => (
          <tr key={v.visitorId} data-testid="trace-visitor" data-visitor={v.visitorId}>
            <td>{v.name ?? ''}</td>
            <td>{v.host === null ? '' : `${v.host} — ${v.purpose ?? ''}`}</td>
            <td>{v.visitorId}</td>
            <td>{v.times}</td>
            <td className="when">{gapText(v.closestGapMs)}</td>
            <td className="when">{when(v.lastAtMs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TracePanel({ api, token, zone, onError }: { api: KioskApi; token: string; zone: string; onError: (e: unknown) => void }) {
  const { t } = useTranslation();
  const [search, setSearch] = useState('');
  const [windowMinutes, setWindowMinutes] = useState<TraceWindowMinutes>(DEFAULT_TRACE_WINDOW_MIN);
  const [days, setDays] = useState<number>(DEFAULT_TRACE_DAYS);
  const [answer, setAnswer] = useState<Results['supervisor.trace'] | null>(null);
  const [busy, setBusy] = useState(false);

  const run = (workerId?: string) => {
    if (!workerId && !search.trim()) return;
    const now = Date.now();
    setBusy(true);
    api
      .call('supervisor.trace', { token, search: search.trim(), ...(workerId ? { workerId } : {}), fromMs: now - days * DAY_MS, toMs: now + 60_000, windowMinutes })
      .then((r) => setAnswer(r), onError)
      .finally(() => setBusy(false));
  };

  const trace = answer?.trace ?? null;
  const people = new Map<string, TraceContact>([...(trace?.contacts ?? []), ...(trace?.refusedOnly ?? [])].map((c) => [c.workerId, c]));
  const nameOf = (id: string) => people.get(id)?.displayName ?? id;
  const when = (ms: number) => formatDateTime(ms, zone);
  const neighbours = (list: TraceNeighbour[], total: number, kind: 'passed' | 'refused') =>
    list.length ? (
      <li className={`trace-near trace-near-${kind}`}>
        <span className="trace-near-label">{kind === 'passed' ? t('supervisor.trace.nearPassed') : t('supervisor.trace.nearRefused')}</span>{' '}
        {list.map((n) => `${nameOf(n.workerId)} (${gapText(n.gapMs, true)})`).join(', ')}
        {total > list.length ? ` ${t('supervisor.trace.more', { count: total - list.length })}` : ''}
      </li>
    ) : null;

  return (
    <div className="trace" data-testid="trace">
      <form
        className="search"
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        <input data-testid="trace-search" placeholder={t('supervisor.trace.searchPlaceholder')} value={search} maxLength={80} onChange={(e) => setSearch(e.target.value)} />
        <label>
          {t('supervisor.trace.window')}{' '}
          <select data-testid="trace-window" value={windowMinutes} onChange={(e) => setWindowMinutes(Number(e.target.value) as TraceWindowMinutes)}>
            {TRACE_WINDOWS_MIN.map((m) => (
              <option key={m} value={m}>
                {t('supervisor.trace.windowOption', { n: m })}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('supervisor.trace.period')}{' '}
          <select data-testid="trace-period" value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {PERIOD_DAYS.map((d) => (
              <option key={d} value={d}>
                {t('supervisor.trace.periodOption', { n: d })}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" data-testid="trace-go" disabled={busy}>
          {t('supervisor.trace.go')}
        </button>
      </form>
      <p className="trace-offline" data-testid="trace-offline">
        {t('supervisor.trace.offline')}
      </p>
      {!answer ? <p data-testid="trace-hint">{t('supervisor.trace.hint')}</p> : null}
      {answer && !trace && answer.candidates.length === 0 ? <p data-testid="trace-none">{t('supervisor.trace.none')}</p> : null}
      {answer && !trace && answer.candidates.length > 0 ? (
        <div className="trace-results">
          <p>{t('supervisor.trace.pick')}</p>
          <div className="trace-picks">
            {answer.candidates.map((c) => (
              <button key={c.workerId} type="button" data-testid={`trace-pick-${c.workerId}`} onClick={() => run(c.workerId)}>
                {c.displayName ?? c.workerId} <small>({c.workerId}{c.team ? ` · ${c.team}` : ''})</small>
              </button>
            ))}
          </div>
        </div>
      ) : null}
      {trace ? (
        <>
          <p className="count" data-testid="trace-summary" data-worker={trace.worker.workerId}>
            {t('supervisor.trace.summary', {
              name: trace.worker.displayName ?? trace.worker.workerId,
              id: trace.worker.workerId,
              passages: trace.passages.length,
              contacts: trace.contacts.length,
              window: trace.windowMinutes,
            })}
          </p>
          <div className="trace-results table-wrap">
            {trace.passages.length === 0 ? <p data-testid="trace-no-passages">{t('supervisor.trace.noPassages')}</p> : null}
            <PeopleTable people={trace.contacts} testId="trace-contacts" rowTestId="trace-contact" caption={t('supervisor.trace.contacts')} when={when} />
            <PeopleTable people={trace.refusedOnly} testId="trace-refused" rowTestId="trace-refused-row" caption={t('supervisor.trace.refusedOnly')} when={when} />
            <VisitorsTable visitors={trace.visitors ?? []} when={when} />
            {trace.passages.length ? (
              <section className="trace-passages">
                <h3>{t('supervisor.trace.passages')}</h3>
                {trace.passages.map((p) => (
                  <details key={p.seq} data-testid="trace-passage" data-seq={p.seq}>
                    <summary>
                      {t('supervisor.trace.passageLine', {
                        when: when(p.atMs),
                        direction: p.direction === 'entry' ? t('supervisor.entry') : t('supervisor.exit'),
                        passed: p.passedCount,
                        refused: p.refusedCount,
                      })}
                    </summary>
                    <ul>
                      {neighbours(p.passed, p.passedCount, 'passed')}
                      {neighbours(p.refused, p.refusedCount, 'refused')}
                      {p.unidentified ? <li>{t('supervisor.trace.unidentified', { count: p.unidentified })}</li> : null}
                      {p.passedCount + p.refusedCount + p.unidentified === 0 ? <li>{t('supervisor.trace.nobody')}</li> : null}
                    </ul>
                  </details>
                ))}
              </section>
            ) : null}
          </div>
        </>
      ) : null}
    </div>
  );
}
