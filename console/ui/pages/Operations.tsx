import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { DENY_REASONS } from '../../../base/common/reasons.js';
import { post, remove, withQuery, type Me } from '../api.js';
import { Ago, Refusal, Table, useChange, useLoad } from '../parts.js';
import type { BusTrip, Device, EntriesDay, Notice, Site } from '../types.js';

/**
 * Devices from their heartbeats: online, outbox, data ages, version, enrolment, certificate, settings;
 * silent and revoked ones marked. An operator may revoke a device (after a confirmation).
 */
export function DevicesPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const devices = useLoad<Device[]>('/api/devices');
  const seconds = (s: number | null) => (s === null ? '—' : t('devices.seconds', { count: Math.round(s) }));
  const [confirming, setConfirming] = useState<string | undefined>(undefined);
  const [outcome, setOutcome] = useState<RevocationReport | undefined>(undefined);
  const [tripsOf, setTripsOf] = useState<string | undefined>(undefined);
  const change = useChange(devices.reload);
  const revoke = async (deviceId: string) => {
    setOutcome(undefined);
    const ok = await change.run(async () => setOutcome(await post<RevocationReport>(`/api/devices/${encodeURIComponent(deviceId)}/revoke`, {})));
    if (ok) setConfirming(undefined);
  };
  return (
    <section aria-labelledby="devices-heading" data-testid="devices-page">
      <h2 id="devices-heading">{t('devices.heading')}</h2>
      <Refusal error={devices.error} />
      {change.error && <p role="alert">{change.error}</p>}
      {outcome && (
        <div role="status" data-testid="revoke-outcome">
          <p>{t('devices.revokeDone', { device: outcome.deviceId })}</p>
          {outcome.steps.filter((s) => !s.ok).map((s) => (
            <p key={s.step} className="flag">{t('devices.revokeStepFailed', { detail: s.detail })}</p>
          ))}
        </div>
      )}
      {confirming && (
        <div role="alertdialog" aria-labelledby="revoke-question" data-testid="revoke-confirm">
          <p id="revoke-question">{t('devices.revokeConfirm', { device: confirming })}</p>
          <button type="button" className="danger" disabled={change.busy} onClick={() => void revoke(confirming)}>
            {t('devices.revokeYes', { device: confirming })}
          </button>{' '}
          <button type="button" disabled={change.busy} onClick={() => setConfirming(undefined)}>
            {t('devices.cancel')}
          </button>
        </div>
      )}
      {devices.data?.length === 0 && <p>{t('common.none')}</p>}
      <Table
        label={t('devices.heading')}
        testId="devices"
        head={[
          t('devices.device'),
          t('common.site'),
          t('common.checkpoint'),
          t('devices.state'),
          t('devices.lastSeen'),
          t('devices.outbox'),
          t('devices.oldest'),
          t('devices.roster'),
          t('devices.version'),
          t('devices.policy'),
          t('devices.disk'),
          t('devices.enrolment'),
          t('devices.certDays'),
          t('devices.settings'),
          ...(me.role === 'operator' ? [''] : []),
        ]}
      >
        {devices.data?.map((d) => (
          <tr key={d.deviceId} className={d.revoked ? 'revoked' : d.silent ? 'silent' : ''} data-device={d.deviceId}>
            <td>
              {d.deviceId}
              {d.bus && (
                <>
                  {' '}
                  <button type="button" aria-expanded={tripsOf === d.deviceId} onClick={() => setTripsOf(tripsOf === d.deviceId ? undefined : d.deviceId)}>
                    {tripsOf === d.deviceId ? t('trips.hide') : t('trips.show')}
                  </button>
                </>
              )}
            </td>
            <td>{d.siteId ?? '—'}</td>
            <td>{d.checkpointId ?? '—'}</td>
            <td>{d.silent ? <strong className="flag">{t('devices.silent')}</strong> : d.online ? t('devices.online') : t('devices.offline')}</td>
            <td>
              <Ago ms={d.quietMs} />
            </td>
            <td>{d.outboxDepth ?? '—'}</td>
            <td>{seconds(d.oldestUnsyncedAgeS)}</td>
            <td>{seconds(d.rosterAgeS)}</td>
            <td>{d.software ?? '—'}</td>
            <td>{d.policyVersion ?? '—'}</td>
            <td>{d.disk ?? '—'}</td>
            <td>{d.revoked ? <strong className="flag">{t('devices.revoked')}</strong> : d.enrolled ? t('devices.enrolled') : t('devices.notEnrolled')}</td>
            <td>{d.certDaysLeft ?? '—'}</td>
            <td>
              {d.settingsVersion ?? '—'}
              {d.settingsRefused && (
                <strong className="flag" data-testid="settings-refused">
                  {' '}
                  {t('devices.settingsRefused', { version: d.settingsRefused.version, problems: d.settingsRefused.problems.join('; ') })}
                </strong>
              )}
            </td>
            {me.role === 'operator' && (
              <td>
                {/* Hand-provisioned devices too: denied at the broker and refused by the hub (their certificate is not this hub's CRL's). */}
                {!d.revoked && (
                  <button type="button" className="danger" onClick={() => (setOutcome(undefined), setConfirming(d.deviceId))}>
                    {t('devices.revoke')}
                  </button>
                )}
              </td>
            )}
          </tr>
        ))}
      </Table>
      {tripsOf && <BusTrips deviceId={tripsOf} />}
    </section>
  );
}

/**
 * A bus unit's recent trips (issue 13), newest first: when, route, driver, riders and refusals; the
 * riders of a trip on expanding it. The hub decides whom a viewer sees (a manager: their
 * organisation's riders, the others counted).
 */
function BusTrips({ deviceId }: { deviceId: string }) {
  const { t, i18n } = useTranslation();
  const trips = useLoad<{ deviceId: string; trips: BusTrip[] }>(`/api/devices/${encodeURIComponent(deviceId)}/trips`);
  const when = (ms: number) => new Date(ms).toLocaleString(i18n.language === 'en' ? 'en-GB' : 'vi-VN');
  const time = (ms: number) => new Date(ms).toLocaleTimeString(i18n.language === 'en' ? 'en-GB' : 'vi-VN');
  return (
    <section aria-labelledby="trips-heading" data-testid="bus-trips">
      <h3 id="trips-heading">{t('trips.heading', { device: deviceId })}</h3>
      <Refusal error={trips.error} />
      {trips.data?.trips.length === 0 && <p>{t('trips.none')}</p>}
      {trips.data && trips.data.trips.length > 0 && (
        <Table label={t('trips.heading', { device: deviceId })} testId="trips" head={[t('trips.started'), t('trips.ended'), t('trips.route'), t('trips.driver'), t('trips.riders'), t('trips.refused'), t('trips.clock')]}>
          {trips.data.trips.map((trip) => (
            <tr key={trip.tripId} data-trip={trip.tripId}>
              <td>{when(trip.startedAt)}</td>
              <td>{trip.endedAt === null ? <strong>{t('trips.open')}</strong> : `${time(trip.endedAt)} (${t(`trips.endReason.${trip.endReason ?? 'TRIP_ENDED'}`)})`}</td>
              <td>{trip.routeId ?? '—'}</td>
              <td>{trip.driverWorkerId ?? '—'}</td>
              <td>
                <details>
                  <summary>
                    {t('trips.showRiders', { count: trip.riders.length })}
                    {trip.ridersElsewhere ? ` ${t('trips.ridersElsewhere', { count: trip.ridersElsewhere })}` : ''}
                  </summary>
                  <table aria-label={t('trips.riders')} data-testid="trip-riders">
                    <thead>
                      <tr>
                        <th scope="col">{t('trips.worker')}</th>
                        <th scope="col">{t('trips.boarded')}</th>
                        <th scope="col">{t('trips.alighted')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {trip.riders.map((r) => (
                        <tr key={`${r.workerId}-${r.boardedAt}`}>
                          <td>{r.workerId}</td>
                          <td>{time(r.boardedAt)}</td>
                          <td>{r.alightedAt === null ? t('trips.stillAboard') : `${time(r.alightedAt)} (${r.alightedBy === 'trip-end' ? t('trips.byTripEnd') : t('trips.byScan')})`}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </details>
              </td>
              <td>{trip.refused}</td>
              <td>{t(`trips.clocks.${trip.clock}`)}</td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

/** What revoking a device did, step by step (sync/hub/fleet/revocation.ts RevocationReport). */
interface RevocationReport {
  deviceId: string;
  steps: { step: string; ok: boolean; detail: string }[];
}

function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** A day's passages at a site, denied ones counted by reason, searchable by worker. */
export function EntriesPage() {
  const { t, i18n } = useTranslation();
  const sites = useLoad<Site[]>('/api/sites');
  const [day, setDay] = useState(today());
  const [site, setSite] = useState('');
  const [worker, setWorker] = useState('');
  const [shown, setShown] = useState(() => ({ day: today(), site: '', worker: '' }));
  // The list comes a page at a time, newest first; `before` is where the page shown ends.
  const [pages, setPages] = useState<string[]>([]);
  const entries = useLoad<EntriesDay>(withQuery('/api/entries', { ...shown, before: pages.at(-1) }));
  const reasonText = (r: string) => (r in DENY_REASONS ? DENY_REASONS[r as keyof typeof DENY_REASONS][i18n.language === 'en' ? 'en' : 'vi'] : r === 'HEALTH' ? t('entries.healthHidden') : r);
  const show = (e: FormEvent) => {
    e.preventDefault();
    setShown({ day, site, worker: worker.trim() });
    setPages([]);
  };
  return (
    <section aria-labelledby="entries-heading" data-testid="entries-page">
      <h2 id="entries-heading">{t('entries.heading')}</h2>
      <form className="row" onSubmit={show}>
        <label>
          {t('entries.day')}
          <input name="day" type="date" required value={day} onChange={(e) => setDay(e.target.value)} />
        </label>
        <label>
          {t('common.site')}
          <select name="site" value={site} onChange={(e) => setSite(e.target.value)}>
            <option value="">{t('common.anySite')}</option>
            {sites.data?.map((s) => (
              <option key={s.id} value={s.id}>
                {s.id} — {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('entries.worker')}
          <input name="worker" type="search" value={worker} onChange={(e) => setWorker(e.target.value)} />
        </label>
        <button type="submit">{t('entries.show')}</button>
      </form>
      <Refusal error={entries.error} />
      {entries.data && (
        <>
          <p role="status" data-testid="entries-total">
            {t('entries.total', { total: entries.data.total, allowed: entries.data.allowed, denied: entries.data.denied })}
          </p>
          <h3>{t('entries.deniedHeading')}</h3>
          <Table label={t('entries.deniedHeading')} testId="denied-by-reason" head={[t('entries.reason'), t('entries.count')]}>
            {Object.entries(entries.data.deniedByReason).map(([r, n]) => (
              <tr key={r}>
                <td>{reasonText(r)}</td>
                <td>{n}</td>
              </tr>
            ))}
          </Table>
          <Table label={t('entries.heading')} testId="entries" head={[t('entries.time'), t('common.checkpoint'), t('entries.direction'), t('entries.worker'), t('entries.decision'), t('entries.reason')]}>
            {entries.data.entries.map((e) => (
              <tr key={`${e.deviceId}-${e.whenMs}-${e.workerId ?? ''}`}>
                <td>
                  {new Date(e.whenMs).toLocaleTimeString(i18n.language === 'en' ? 'en-GB' : 'vi-VN')}
                  {e.clock !== 'synced' && e.clock !== 'corrected' ? ` (${t('entries.unverifiedClock')})` : ''}
                </td>
                <td>{e.checkpointId}</td>
                <td>{e.direction}</td>
                <td>{e.workerId ?? '—'}</td>
                <td>{e.decision === 'allow' ? t('entries.allow') : e.decision === 'deny' ? t('entries.deny') : e.decision}</td>
                <td>{e.reasons.map(reasonText).join('; ')}</td>
              </tr>
            ))}
          </Table>
          <div className="row">
            {pages.length > 0 && (
              <button type="button" onClick={() => setPages([])}>
                {t('entries.newest')}
              </button>
            )}
            {entries.data.next && (
              <button type="button" data-testid="entries-older" onClick={() => setPages((p) => [...p, entries.data!.next!])}>
                {t('entries.older')}
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}

function PublishNotice({ done }: { done: () => void }) {
  const { t } = useTranslation();
  const [vi, setVi] = useState('');
  const [en, setEn] = useState('');
  const [priority, setPriority] = useState('info');
  const [expires, setExpires] = useState('');
  const change = useChange(done);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const expiresAtMs = new Date(expires).getTime();
    const id = `notice-${Date.now().toString(36)}`;
    void change
      .run(() => post('/api/notices', { id, vi: vi.trim(), ...(en.trim() ? { en: en.trim() } : {}), priority, expiresAtMs }))
      .then((ok) => ok && (setVi(''), setEn('')));
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="publish-heading">
      <h3 id="publish-heading">{t('notices.publish')}</h3>
      <label>
        {t('notices.vi')}
        <textarea name="vi" required maxLength={2000} value={vi} onChange={(e) => setVi(e.target.value)} />
      </label>
      <label>
        {t('notices.en')}
        <textarea name="en" maxLength={2000} value={en} onChange={(e) => setEn(e.target.value)} />
      </label>
      <label>
        {t('notices.priority')}
        <select name="priority" value={priority} onChange={(e) => setPriority(e.target.value)}>
          {(['info', 'important', 'urgent'] as const).map((p) => (
            <option key={p} value={p}>
              {t(`notices.${p}`)}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('notices.expires')}
        <input name="expires" type="datetime-local" required value={expires} onChange={(e) => setExpires(e.target.value)} />
      </label>
      <button type="submit" disabled={change.busy}>
        {t('notices.publish')}
      </button>
      <Refusal error={change.error} />
    </form>
  );
}

/** Notices kiosks show: operators publish and withdraw them. */
export function NoticesPage({ me }: { me: Me }) {
  const { t, i18n } = useTranslation();
  const notices = useLoad<Notice[]>('/api/notices');
  const withdraw = useChange(notices.reload);
  const operator = me.role === 'operator';
  const when = (ms: number) => new Date(ms).toLocaleString(i18n.language === 'en' ? 'en-GB' : 'vi-VN');
  return (
    <section aria-labelledby="notices-heading" data-testid="notices-page">
      <h2 id="notices-heading">{t('notices.heading')}</h2>
      <Refusal error={notices.error ?? withdraw.error} />
      <Table label={t('notices.heading')} testId="notices" head={[t('notices.vi'), t('notices.priority'), t('notices.starts'), t('notices.expires'), '']}>
        {notices.data?.map((n) => (
          <tr key={n.id}>
            <td>{i18n.language === 'en' && n.en ? n.en : n.vi}</td>
            <td>{t(`notices.${n.priority}`)}</td>
            <td>{when(n.startsAtMs)}</td>
            <td>{when(n.expiresAtMs)}</td>
            <td>
              {operator && (
                <button type="button" onClick={() => void withdraw.run(() => remove(`/api/notices/${encodeURIComponent(n.id)}`))}>
                  {t('notices.withdraw')}
                </button>
              )}
            </td>
          </tr>
        ))}
      </Table>
      {operator && <PublishNotice done={notices.reload} />}
    </section>
  );
}
