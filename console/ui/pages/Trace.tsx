import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, get, post, type Me } from '../api.js';
import { Refusal, Table, useLoad } from '../parts.js';

/** The kinds of place a contact is made at (sync/hub/trace.ts). */
type PlaceKind = 'zone' | 'team' | 'canteen' | 'dormitory' | 'bus';
interface Place {
  key: string;
  kind: PlaceKind;
  checkpointId: string;
  name: string;
  siteId: string | null;
  /** A bus trip (issue 13): the bus's own place for this trip. */
  tripId?: string;
}
interface Exposure {
  place: Place;
  fromMs: number;
  toMs: number;
  overlapMinutes: number;
  source: 'kiosk' | 'phone';
  unverifiedClock: boolean;
  viaWorkerId?: string;
}
/** What a visitor gave at registration (issue 14). */
interface VisitorVisit {
  name: string;
  host: string;
  purpose: string;
}
interface Contact {
  /** A worker's id, or a visitor's pseudonym (kind 'visitor'). */
  workerId: string;
  kind?: 'worker' | 'visitor';
  visitor?: VisitorVisit | null;
  degree: 1 | 2;
  orgId: string | null;
  rank: number;
  overlapMinutes: number;
  unverifiedClock: boolean;
  fullName: string | null;
  team: string | null;
  notified: { by: string; atMs: number } | null;
  exposures: Exposure[];
}
interface TraceSummary {
  traceId: string;
  caseWorkerId: string;
  caseName?: string | null;
  fromMs: number;
  toMs: number;
  secondDegree: boolean;
  startedBy: string;
  startedMs: number;
  contacts: number;
  notified: number;
}
/** A trace as GET /api/traces/:id answers it (console/server/trace-routes.ts). */
interface OpenTrace {
  zone: string;
  trace: TraceSummary;
  case: { workerId: string; orgId: string | null; fullName: string | null; team: string | null };
  contacts: Contact[];
  contactsElsewhere: number;
  /** Visitors on the case's sites while the case was there (not contacts), of the viewer's organisation's sites. */
  visitorsOnSite: { visitorId: string; visitor: VisitorVisit | null; siteId: string; enteredMs: number; leftMs: number | null; overlapMinutes: number; unverifiedClock: boolean }[];
}

const DAY_MS = 86_400_000;

/** A day (YYYY-MM-DD) and a time (HH:MM) in the province zone, whatever the browser's own. */
function inZone(zone: string) {
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const time = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return { day: (ms: number) => day.format(ms), time: (ms: number) => time.format(ms), at: (ms: number) => `${day.format(ms)} ${time.format(ms)}` };
}

/** One row of the page: a contact at one place, one day. */
interface Row {
  contact: Contact;
  exposure: Exposure;
}

/** Contacts grouped by day and place (a contact met at two places, or on two days, is in each group), each group by rank then time. */
function groupsOf(trace: OpenTrace): { day: string; place: Place; rows: Row[] }[] {
  const z = inZone(trace.zone);
  const groups = new Map<string, { day: string; place: Place; rows: Row[] }>();
  for (const contact of trace.contacts) {
    for (const exposure of contact.exposures) {
      const day = z.day(exposure.fromMs);
      const key = `${day}|${exposure.place.key}`;
      const g = groups.get(key) ?? { day, place: exposure.place, rows: [] };
      g.rows.push({ contact, exposure });
      groups.set(key, g);
    }
  }
  const list = [...groups.values()];
  for (const g of list) g.rows.sort((a, b) => a.contact.rank - b.contact.rank || a.exposure.fromMs - b.exposure.fromMs);
  return list.sort((a, b) => a.day.localeCompare(b.day) || a.place.name.localeCompare(b.place.name, 'vi') || a.place.key.localeCompare(b.place.key));
}

/**
 * Narrow tracing (issue 11) for health officers (any worker, every contact) and organisation
 * managers (their own workers; their organisation's contacts, with a count of the others): start a
 * trace, see its contacts by day and place in the province zone, mark each as told, export the sheet
 * for the health authority, and reopen earlier traces. The server decides who sees what.
 */
export function TracePage({ me }: { me: Me }) {
  const { t, i18n } = useTranslation();
  const list = useLoad<{ zone: string; nowMs: number; traces: TraceSummary[] }>('/api/traces');
  const zone = list.data?.zone;
  const hubNow = list.data?.nowMs;
  const [open, setOpen] = useState<OpenTrace | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [running, setRunning] = useState(false);
  const [workerId, setWorkerId] = useState('');
  const [from, setFrom] = useState<string | undefined>();
  const [to, setTo] = useState<string | undefined>();
  const [secondDegree, setSecondDegree] = useState(false);
  // The last 14 days in the province zone by the hub's clock, once the list has said both.
  const today = zone && hubNow !== undefined ? inZone(zone).day(hubNow) : '';
  const fromShown = from ?? (zone && hubNow !== undefined ? inZone(zone).day(hubNow - 14 * DAY_MS) : '');
  const toShown = to ?? today;

  const refusal = (err: unknown) => {
    if (!(err instanceof ApiError)) return String(err);
    if (err.status === 403) return me.role === 'manager' ? t('trace.notYourWorker') : t('trace.notAllowed');
    if (err.status === 429) return t('trace.tooMany');
    return t('common.refused', { error: err.message });
  };

  const start = async (e: FormEvent) => {
    e.preventDefault();
    setRunning(true);
    setError(undefined);
    try {
      const started = await post<OpenTrace>('/api/traces', { workerId: workerId.trim(), ...(fromShown ? { from: fromShown } : {}), ...(toShown ? { to: toShown } : {}), secondDegree });
      setOpen(started);
      list.reload();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? t('trace.unknownWorker', { worker: workerId.trim() }) : refusal(err));
    } finally {
      setRunning(false);
    }
  };

  const show = async (traceId: string) => {
    setError(undefined);
    try {
      setOpen(await get<OpenTrace>(`/api/traces/${traceId}`));
    } catch (err) {
      setError(refusal(err));
    }
  };

  const markNotified = async (workerIdToMark: string) => {
    if (!open) return;
    try {
      await post(`/api/traces/${open.trace.traceId}/contacts/${encodeURIComponent(workerIdToMark)}/notified`, {});
      await show(open.trace.traceId);
      list.reload();
    } catch (err) {
      setError(refusal(err));
    }
  };

  const z = zone ? inZone(zone) : undefined;
  const lang = i18n.language === 'en' ? 'en' : 'vi';
  return (
    <section aria-labelledby="trace-heading" data-testid="trace-page">
      <h2 id="trace-heading">{t('trace.heading')}</h2>
      <p>{me.role === 'manager' ? t('trace.introManager') : t('trace.introHealth')}</p>
      <form className="card inline" data-testid="trace-form" onSubmit={(e) => void start(e)}>
        <label>
          {t('trace.worker')}
          <input name="workerId" required maxLength={64} pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" value={workerId} onChange={(e) => setWorkerId(e.target.value)} data-testid="trace-worker" />
        </label>
        <label>
          {t('trace.from')}
          <input name="from" type="date" value={fromShown} max={toShown || undefined} onChange={(e) => setFrom(e.target.value)} data-testid="trace-from" />
        </label>
        <label>
          {t('trace.to')}
          <input name="to" type="date" value={toShown} max={today || undefined} onChange={(e) => setTo(e.target.value)} data-testid="trace-to" />
        </label>
        <label className="check">
          <input name="secondDegree" type="checkbox" checked={secondDegree} onChange={(e) => setSecondDegree(e.target.checked)} data-testid="trace-f2" />
          {t('trace.secondDegree')}
        </label>
        <button type="submit" disabled={running || !zone} data-testid="trace-start">
          {running ? t('trace.running') : t('trace.start')}
        </button>
      </form>
      {running && (
        <p role="status" data-testid="trace-running">
          {t('trace.runningLong')}
        </p>
      )}
      {error && (
        <p role="alert" className="error" data-testid="trace-error">
          {error}
        </p>
      )}
      {open && z && <OpenTraceView trace={open} lang={lang} onNotified={(w) => void markNotified(w)} />}

      <h3>{t('trace.earlier')}</h3>
      <Refusal error={list.error} />
      {list.data?.traces.length === 0 && <p>{t('common.none')}</p>}
      {z && list.data && list.data.traces.length > 0 && (
        <Table label={t('trace.earlier')} testId="traces" head={[t('trace.startedAt'), t('trace.case'), t('trace.period'), t('trace.degree'), t('trace.contactsCount'), t('trace.notifiedCount'), t('trace.startedBy'), '']}>
          {list.data.traces.map((s) => (
            <tr key={s.traceId} aria-current={open?.trace.traceId === s.traceId ? 'true' : undefined}>
              <td>{z.at(s.startedMs)}</td>
              <td>
                {s.caseWorkerId}
                {s.caseName ? ` — ${s.caseName}` : ''}
              </td>
              <td>
                {z.day(s.fromMs)} – {z.day(s.toMs - 1)}
              </td>
              <td>{s.secondDegree ? 'F1 + F2' : 'F1'}</td>
              <td>{s.contacts}</td>
              <td>{s.notified}</td>
              <td>{s.startedBy}</td>
              <td>
                <button type="button" onClick={() => void show(s.traceId)} data-testid="trace-open">
                  {t('trace.open')}
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

function OpenTraceView({ trace, lang, onNotified }: { trace: OpenTrace; lang: 'vi' | 'en'; onNotified: (workerId: string) => void }) {
  const { t } = useTranslation();
  const z = inZone(trace.zone);
  const s = trace.trace;
  const groups = groupsOf(trace);
  return (
    <article className="card" data-testid="trace-result" data-trace={s.traceId} aria-labelledby="trace-result-heading">
      <h3 id="trace-result-heading">
        {t('trace.resultHeading', { worker: trace.case.workerId })}
        {trace.case.fullName ? ` — ${trace.case.fullName}` : ''}
      </h3>
      <p data-testid="trace-summary">
        {t('trace.summary', { from: z.day(s.fromMs), to: z.day(s.toMs - 1), count: trace.contacts.length, by: s.startedBy, at: z.at(s.startedMs) })} {s.secondDegree ? t('trace.withF2') : ''}
      </p>
      {trace.contactsElsewhere > 0 && (
        <p className="note" data-testid="trace-elsewhere">
          {t('trace.elsewhere', { count: trace.contactsElsewhere })}
        </p>
      )}
      <p>
        <a href={`/api/traces/${s.traceId}/export.xlsx?lang=${lang}`} download data-testid="trace-export-xlsx">
          {t('trace.exportXlsx')}
        </a>{' '}
        ·{' '}
        <a href={`/api/traces/${s.traceId}/export.csv?lang=${lang}`} download data-testid="trace-export-csv">
          {t('trace.exportCsv')}
        </a>
      </p>
      {groups.length === 0 && <p data-testid="trace-none">{t('trace.noContacts')}</p>}
      {groups.map((g) => (
        <section key={`${g.day}|${g.place.key}`} data-testid="trace-group" data-day={g.day} data-place={g.place.checkpointId}>
          <h4>
            {g.day} — {g.place.name} ({t(`checkpointKind.${g.place.kind}`)}){g.place.tripId !== undefined && ` — ${t('trace.trip', { trip: g.place.tripId })}`}
          </h4>
          <Table
            label={`${g.day} ${g.place.name}`}
            head={[t('trace.rank'), t('trace.degree'), t('trace.worker'), t('trace.name'), t('trace.team'), t('common.organisation'), t('trace.when'), t('trace.minutes'), t('trace.source'), t('trace.clock'), t('trace.notified')]}
          >
            {g.rows.map(({ contact: c, exposure: e }) => (
              <tr key={`${c.workerId}|${e.fromMs}`} data-testid="trace-contact" data-worker={c.workerId}>
                <td>{c.rank}</td>
                <td>
                  F{c.degree}
                  {e.viaWorkerId ? ` (${t('trace.via', { worker: e.viaWorkerId })})` : ''}
                </td>
                <td>{c.workerId}</td>
                <td>
                  {c.fullName ?? '—'}
                  {c.kind === 'visitor' && <span data-testid="trace-visitor-mark"> ({t('trace.visitor')})</span>}
                </td>
                <td>{c.kind === 'visitor' ? (c.visitor ? t('trace.visiting', { host: c.visitor.host || '—', purpose: c.visitor.purpose || '—' }) : '—') : (c.team ?? '—')}</td>
                <td>{c.orgId ?? '—'}</td>
                <td data-testid="trace-when">
                  {z.time(e.fromMs)}–{z.time(e.toMs)}
                </td>
                <td data-testid="trace-minutes">{e.overlapMinutes}</td>
                <td>{t(`trace.sourceKind.${e.source}`)}</td>
                <td>{e.unverifiedClock ? <strong data-testid="trace-unverified">{t('trace.unverified')}</strong> : ''}</td>
                <td>
                  {c.notified ? (
                    <span data-testid="trace-notified">{t('trace.notifiedBy', { by: c.notified.by, at: z.at(c.notified.atMs) })}</span>
                  ) : (
                    <button type="button" onClick={() => onNotified(c.workerId)} data-testid="trace-notify">
                      {t('trace.markNotified')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        </section>
      ))}
      <h4>{t('trace.visitorsOnSite')}</h4>
      <p className="note">{t('trace.visitorsOnSiteNote')}</p>
      {(trace.visitorsOnSite ?? []).length === 0 ? (
        <p data-testid="trace-visitors-none">{t('common.none')}</p>
      ) : (
        <Table label={t('trace.visitorsOnSite')} testId="trace-visitors" head={[t('trace.name'), t('trace.host'), t('trace.purpose'), t('trace.site'), t('trace.entered'), t('trace.left'), t('trace.minutes'), t('trace.clock')]}>
          {trace.visitorsOnSite.map((v) => (
            <tr key={`${v.visitorId}|${v.enteredMs}`} data-testid="trace-visitor" data-visitor={v.visitorId}>
              <td>{v.visitor?.name ?? v.visitorId}</td>
              <td>{v.visitor?.host || '—'}</td>
              <td>{v.visitor?.purpose || '—'}</td>
              <td>{v.siteId}</td>
              <td>{z.at(v.enteredMs)}</td>
              <td>{v.leftMs === null ? t('trace.noExit') : z.at(v.leftMs)}</td>
              <td data-testid="trace-visitor-minutes">{v.overlapMinutes}</td>
              <td>{v.unverifiedClock ? <strong>{t('trace.unverified')}</strong> : ''}</td>
            </tr>
          ))}
        </Table>
      )}
    </article>
  );
}
