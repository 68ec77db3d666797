import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { DENY_REASONS } from '../../../base/common/reasons.js';
import { withQuery, type Me } from '../api.js';
import { Ago, Refusal, Table, useLoad } from '../parts.js';
import type { Organisation } from '../types.js';

const CATEGORIES = ['health', 'override', 'gate', 'device', 'compliance'] as const;

/** A day's summary as GET /api/reports/summary answers (console/server/report-routes.ts). */
interface Summary {
  day: string;
  orgId: string | null;
  orgName: string | null;
  /** The province's time zone: times are shown in it. */
  zone: string;
  asOfMs: number;
  passages: { total: number; allowed: number; denied: number; entries: number };
  deniedByReason: Record<string, number>;
  alerts: { raised: number; acknowledged: number; byCategory: Partial<Record<(typeof CATEGORIES)[number], { raised: number; acknowledged: number }>> };
  silentKiosks: { deviceId: string; siteId: string; lastSeenMs: number | null }[];
  lists: { orgId: string; listAgeMs: number | null; todaysList: 'before-deadline' | 'not-yet' | 'late' | 'missing'; outOfCompliance: boolean }[];
}

interface KeptList {
  orgId: string;
  day: string;
  madeMs: number;
  workers: number;
}

/**
 * Reports: a day's summary (the province's day; today by default) of an organisation (a manager's
 * own; any for operators and health officers, or the whole province), and its CV 2242 labour list to
 * download, as the hub holds it now or as the schedule kept it at 16:00 (managers and health officers
 * only: it holds health data). The server decides what each role sees (health reasons by code only
 * to health officers and managers).
 */
export function ReportsPage({ me }: { me: Me }) {
  const { t, i18n } = useTranslation();
  const [day, setDay] = useState('');
  const [org, setOrg] = useState(me.role === 'manager' ? (me.org ?? '') : '');
  const orgs = useLoad<Organisation[]>(me.role === 'manager' ? undefined : '/api/organisations');
  const summary = useLoad<Summary>(withQuery('/api/reports/summary', { date: day, org }));
  // Labour lists hold named test results, ID numbers and phones: never an operator's (the API refuses them too).
  const mayHaveLists = me.role === 'manager' || me.role === 'health';
  const kept = useLoad<KeptList[]>(mayHaveLists ? '/api/reports/labour-lists' : undefined);
  const lang = i18n.language === 'en' ? 'en' : 'vi';
  const reasonText = (r: string) => (r in DENY_REASONS ? DENY_REASONS[r as keyof typeof DENY_REASONS][lang] : r === 'HEALTH' ? t('reports.healthTogether') : r);
  const s = summary.data;
  const when = (ms: number) => new Date(ms).toLocaleString(lang === 'en' ? 'en-GB' : 'vi-VN', s ? { timeZone: s.zone } : {});
  const keptList = kept.data?.find((k) => k.orgId === org);
  return (
    <section aria-labelledby="reports-heading" data-testid="reports-page">
      <h2 id="reports-heading">{t('reports.heading')}</h2>
      <div className="card inline">
        <label>
          {t('reports.day')}
          <input type="date" name="report-day" value={day} onChange={(e) => setDay(e.target.value)} />
        </label>
        {me.role !== 'manager' && (
          <label>
            {t('common.organisation')}
            <select name="report-org" value={org} onChange={(e) => setOrg(e.target.value)}>
              <option value="">{t('reports.province')}</option>
              {orgs.data?.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name} ({o.id})
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <Refusal error={summary.error} />
      {s && (
        <div data-testid="summary">
          <h3>
            {t('reports.summaryOf', { day: s.day, who: s.orgId === null ? t('reports.province') : `${s.orgName ?? s.orgId} (${s.orgId})` })}
          </h3>
          <p className="hint">{t('reports.asOf', { when: when(s.asOfMs) })}</p>
          <p data-testid="summary-passages">{t('reports.passages', s.passages)}</p>
          {Object.keys(s.deniedByReason).length > 0 && (
            <Table label={t('reports.deniedHeading')} testId="summary-denied" head={[t('entries.reason'), t('entries.count')]}>
              {Object.entries(s.deniedByReason)
                .sort((a, b) => b[1] - a[1])
                .map(([r, n]) => (
                  <tr key={r}>
                    <td>{reasonText(r)}</td>
                    <td>{n}</td>
                  </tr>
                ))}
            </Table>
          )}
          <p data-testid="summary-alerts">{t('reports.alerts', s.alerts)}</p>
          {s.alerts.raised > 0 && (
            <Table label={t('reports.alertsHeading')} testId="summary-alert-categories" head={[t('reports.category'), t('reports.raised'), t('reports.acknowledged')]}>
              {CATEGORIES.filter((c) => s.alerts.byCategory[c]).map((c) => (
                <tr key={c}>
                  <td>{t(`reports.categories.${c}`)}</td>
                  <td>{s.alerts.byCategory[c]!.raised}</td>
                  <td>{s.alerts.byCategory[c]!.acknowledged}</td>
                </tr>
              ))}
            </Table>
          )}
          <p data-testid="summary-silent">{t('reports.silent', { count: s.silentKiosks.length })}</p>
          {s.silentKiosks.length > 0 && (
            <Table label={t('reports.silentHeading')} testId="summary-silent-kiosks" head={[t('reports.device'), t('common.site'), t('reports.lastSeen')]}>
              {s.silentKiosks.map((k) => (
                <tr key={k.deviceId}>
                  <td>{k.deviceId}</td>
                  <td>{k.siteId}</td>
                  <td>{k.lastSeenMs === null ? t('common.never') : when(k.lastSeenMs)}</td>
                </tr>
              ))}
            </Table>
          )}
          <Table label={t('reports.listsHeading')} testId="summary-lists" head={[t('common.organisation'), t('orgs.listAge'), t('orgs.today'), t('orgs.compliance')]}>
            {s.lists.map((l) => (
              <tr key={l.orgId}>
                <td>{l.orgId}</td>
                <td>
                  <Ago ms={l.listAgeMs} />
                </td>
                <td>{t(`todaysList.${l.todaysList}`)}</td>
                <td>{l.outOfCompliance ? t('orgs.outOfCompliance') : t('orgs.ok')}</td>
              </tr>
            ))}
          </Table>
        </div>
      )}
      {mayHaveLists && (
        <div className="card" data-testid="labour-list">
          <h3>{t('reports.labourHeading')}</h3>
          <p>{t('reports.labourIntro')}</p>
          {org === '' ? (
            <p>{t('reports.pickOrganisation')}</p>
          ) : (
            <ul>
              <li>
                <a href={withQuery('/api/reports/labour-list.xlsx', { org })} download data-testid="labour-list-now">
                  {t('reports.labourNow', { org })}
                </a>
              </li>
              {keptList && (
                <li>
                  <a href={withQuery('/api/reports/labour-list.xlsx', { org, kept: 'true' })} download data-testid="labour-list-kept">
                    {t('reports.labourKept', { when: when(keptList.madeMs), count: keptList.workers })}
                  </a>
                </li>
              )}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
