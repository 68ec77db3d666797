import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { DENY_REASONS } from '../../../base/common/reasons.js';
import { get, post, remove, withQuery, type Me } from '../api.js';
import { Refusal, Table, useChange, useLoad } from '../parts.js';
import type { Organisation, Site } from '../types.js';

/**
 * The Alerts page (console/server/alert-routes.ts): the hub's alert book, live. The server pushes
 * only "alert <id> raised/changed" over one EventSource per tab (shared by the page and the
 * navigation's badge); the page then asks the API for what its account may see. A new alert is
 * marked on the page (and beeps when the person turned the sound on). `#alerts/<id>` (the link
 * e-mails and webhooks carry) opens one alert.
 */

export interface BookDelivery {
  recipientId: string;
  channel: 'email' | 'webhook';
  address: string;
  state: 'pending' | 'sent' | 'failed' | 'cancelled';
  attempts: number;
  lastError: string | null;
  lastAttemptAtMs: number | null;
  nextAttemptAtMs: number | null;
  sentAtMs: number | null;
  undelivered: boolean;
}

export interface BookAlert {
  alertId: string;
  source: 'kiosk' | 'hub';
  kind: string;
  category: string;
  orgId: string | null;
  siteId: string | null;
  checkpointId: string | null;
  deviceId: string | null;
  atMs: number;
  raisedAtMs: number;
  acknowledgedBy: string | null;
  acknowledgedAtMs: number | null;
  workerId: string | null;
  workerName: string | null;
  reasons: string[];
  note: string | null;
  deliveries: BookDelivery[];
}

interface Recipient {
  recipientId: string;
  orgId: string | null;
  siteId: string | null;
  channel: 'email' | 'webhook';
  address: string;
  categories: string[] | null;
  createdAtMs: number;
  disabled: boolean;
  secret?: string;
}

const CATEGORIES = ['health', 'override', 'gate', 'device', 'compliance'] as const;

type LiveEvent = { alertId: string; change: 'raised' | 'changed' } | { alertId: null; change: 'connected' };

// One stream per tab, open while something listens (the badge, whenever someone is signed in).
const listeners = new Set<(e: LiveEvent) => void>();
let source: EventSource | undefined;
let reopen: ReturnType<typeof setTimeout> | undefined;

function openStream() {
  const s = new EventSource('/api/alerts/live');
  source = s;
  const emit = (e: LiveEvent) => {
    for (const l of [...listeners]) l(e);
  };
  s.addEventListener('open', () => emit({ alertId: null, change: 'connected' }));
  s.addEventListener('alert', (m) => {
    try {
      const data = JSON.parse((m as MessageEvent<string>).data) as { alertId: string; change: 'raised' | 'changed' };
      emit({ alertId: data.alertId, change: data.change });
    } catch {
      // not ours
    }
  });
  // The browser reconnects by itself after a dropped stream; a refusal (too many tabs, signed out) closes it: try again later.
  s.addEventListener('error', () => {
    if (s.readyState !== EventSource.CLOSED || source !== s) return;
    source = undefined;
    reopen = setTimeout(() => {
      reopen = undefined;
      if (listeners.size && !source) openStream();
    }, 30_000);
  });
}

/** Calls `listener` for every live change the signed-in account may hear of, and on each (re)connection. */
export function useAlertLive(listener: (e: LiveEvent) => void): void {
  const ref = useRef(listener);
  useEffect(() => {
    ref.current = listener;
  });
  useEffect(() => {
    const l = (e: LiveEvent) => ref.current(e);
    listeners.add(l);
    if (!source && !reopen) openStream();
    return () => {
      listeners.delete(l);
      if (listeners.size === 0) {
        source?.close();
        source = undefined;
        clearTimeout(reopen);
        reopen = undefined;
      }
    };
  }, []);
}

/** `fn` at most once per `ms` however many calls come meanwhile (a burst of changes is one reload). */
function useCoalesced(fn: () => void, ms = 100): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(fn);
  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    timer.current ??= setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  }, [ms]);
}

/** The navigation's count of alerts not yet acknowledged, kept current by the live stream. */
export function UnacknowledgedBadge() {
  const { t } = useTranslation();
  const [count, setCount] = useState(0);
  const load = useCallback(() => {
    get<{ unacknowledged: number }>('/api/alerts/summary').then(
      (s) => setCount(s.unacknowledged),
      () => undefined,
    );
  }, []);
  useEffect(load, [load]);
  useAlertLive(useCoalesced(load));
  if (count === 0) return null;
  return (
    <span className="badge" data-testid="alerts-badge" aria-label={t('alerts.unacknowledgedCount', { count })}>
      {count}
    </span>
  );
}

/** A short tone (the page's sound cue for a new alert), if the browser lets the page play one. */
function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
    osc.onended = () => void ctx.close();
  } catch {
    // no sound here
  }
}

const SOUND_KEY = 'safegate.alerts.sound';

function useWhen() {
  const { i18n } = useTranslation();
  return (ms: number) => new Date(ms).toLocaleString(i18n.language === 'en' ? 'en-GB' : 'vi-VN');
}

function DeliveryState({ d }: { d: BookDelivery }) {
  const { t } = useTranslation();
  const when = useWhen();
  if (d.state === 'sent') return <span className="ok" data-state="sent">✓ {t('alerts.delivery.sent', { when: d.sentAtMs ? when(d.sentAtMs) : '' })}</span>;
  if (d.state === 'cancelled') return <span data-state="cancelled">{t('alerts.delivery.cancelled')}</span>;
  const detail = t('alerts.delivery.attempts', { count: d.attempts }) + (d.lastError ? ` — ${d.lastError}` : '');
  if (d.undelivered) {
    return (
      <strong className="flag" data-state="undelivered">
        ⚠ {t('alerts.delivery.undelivered')} ({detail})
      </strong>
    );
  }
  if (d.attempts === 0) return <span data-state="pending">{t('alerts.delivery.pending')}</span>;
  return (
    <span data-state="retrying">
      ↻ {t('alerts.delivery.retrying')} ({detail})
    </span>
  );
}

function Deliveries({ deliveries }: { deliveries: BookDelivery[] }) {
  const { t } = useTranslation();
  if (deliveries.length === 0) return <small>{t('alerts.delivery.nobody')}</small>;
  return (
    <ul className="deliveries" data-testid="deliveries">
      {deliveries.map((d) => (
        <li key={d.recipientId} data-recipient={d.recipientId}>
          {t(`alerts.channel.${d.channel}`)} {d.address}: <DeliveryState d={d} />
        </li>
      ))}
    </ul>
  );
}

function useTexts() {
  const { t, i18n } = useTranslation();
  const reasonText = (r: string) => (r in DENY_REASONS ? DENY_REASONS[r as keyof typeof DENY_REASONS][i18n.language === 'en' ? 'en' : 'vi'] : r === 'HEALTH' ? t('entries.healthHidden') : r);
  const kindText = (k: string) => t(`alerts.kinds.${k}`, { defaultValue: k });
  return { reasonText, kindText };
}

function AckButton({ alert, me, done }: { alert: BookAlert; me: Me; done: () => void }) {
  const { t } = useTranslation();
  const when = useWhen();
  const ack = useChange(done);
  if (alert.acknowledgedAtMs !== null) {
    return <span data-testid="acknowledged">{t('alerts.acknowledgedBy', { name: alert.acknowledgedBy ?? '—', when: when(alert.acknowledgedAtMs) })}</span>;
  }
  // Health officers only read (the server refuses them too).
  if (me.role === 'health') return <span>{t('alerts.notAcknowledged')}</span>;
  return (
    <>
      <button type="button" data-testid="acknowledge" disabled={ack.busy} onClick={() => void ack.run(() => post(`/api/alerts/${encodeURIComponent(alert.alertId)}/ack`, {}))}>
        {t('alerts.acknowledge')}
      </button>
      <Refusal error={ack.error} />
    </>
  );
}

function AlertDetail({ alertId, me }: { alertId: string; me: Me }) {
  const { t } = useTranslation();
  const when = useWhen();
  const { reasonText, kindText } = useTexts();
  const alert = useLoad<BookAlert>(`/api/alerts/book/${encodeURIComponent(alertId)}`);
  const reload = useCoalesced(alert.reload);
  useAlertLive((e) => {
    if (e.alertId === alertId || e.change === 'connected') reload();
  });
  const a = alert.data;
  return (
    <section aria-labelledby="alert-heading" data-testid="alert-detail" className="card">
      <h2 id="alert-heading">{t('alerts.detailHeading', { id: alertId })}</h2>
      <p>
        <a href="#alerts">{t('alerts.back')}</a>
      </p>
      <Refusal error={alert.error} />
      {a && (
        <>
          <dl>
            <dt>{t('alerts.kind')}</dt>
            <dd data-testid="alert-kind">{kindText(a.kind)}</dd>
            <dt>{t('alerts.category')}</dt>
            <dd>{t(`alerts.categories.${a.category}`, { defaultValue: a.category })}</dd>
            <dt>{t('alerts.when')}</dt>
            <dd>{when(a.atMs)}</dd>
            <dt>{t('common.organisation')}</dt>
            <dd>{a.orgId ?? '—'}</dd>
            <dt>{t('common.site')}</dt>
            <dd>{a.siteId ?? '—'}</dd>
            <dt>{t('alerts.place')}</dt>
            <dd>{[a.checkpointId, a.deviceId].filter(Boolean).join(' · ') || '—'}</dd>
            <dt>{t('entries.worker')}</dt>
            <dd data-testid="alert-worker">{a.workerId ? `${a.workerName ?? ''} (${a.workerId})` : '—'}</dd>
            <dt>{t('entries.reason')}</dt>
            <dd>{a.reasons.map(reasonText).join('; ') || '—'}</dd>
            {a.note && (
              <>
                <dt>{t('alerts.note')}</dt>
                <dd>{a.note}</dd>
              </>
            )}
            <dt>{t('alerts.acknowledgement')}</dt>
            <dd>
              <AckButton alert={a} me={me} done={alert.reload} />
            </dd>
          </dl>
          <h3>{t('alerts.deliveriesHeading')}</h3>
          <Deliveries deliveries={a.deliveries} />
        </>
      )}
    </section>
  );
}

function AlertList({ me }: { me: Me }) {
  const { t } = useTranslation();
  const when = useWhen();
  const { reasonText, kindText } = useTexts();
  const [unacknowledged, setUnacknowledged] = useState(false);
  const [sound, setSound] = useState(() => localStorage.getItem(SOUND_KEY) === 'on');
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [news, setNews] = useState(0);
  // A page at a time, newest first; `before` is where the page shown ends (the newest page updates live, older ones on a change too).
  const [pages, setPages] = useState<string[]>([]);
  const alerts = useLoad<{ alerts: BookAlert[]; next: string | null }>(withQuery('/api/alerts/book', { limit: '100', unacknowledged: unacknowledged ? 'true' : undefined, before: pages.at(-1) }));
  const reload = useCoalesced(alerts.reload);
  useAlertLive((e) => {
    reload();
    if (e.change === 'raised') {
      setFresh((f) => new Set([...f, e.alertId]));
      setNews((n) => n + 1);
      if (localStorage.getItem(SOUND_KEY) === 'on') beep();
      setTimeout(() => setFresh((f) => new Set([...f].filter((id) => id !== e.alertId))), 15_000);
    }
  });
  const toggleSound = (on: boolean) => {
    setSound(on);
    localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
    if (on) beep();
  };
  const rows = alerts.data?.alerts;
  return (
    <section aria-labelledby="alerts-heading" data-testid="alerts-page">
      <h2 id="alerts-heading">{t('alerts.heading')}</h2>
      <div className="row">
        <label className="choice">
          <input type="checkbox" name="unacknowledged" checked={unacknowledged} onChange={(e) => (setUnacknowledged(e.target.checked), setPages([]))} />
          {t('alerts.onlyUnacknowledged')}
        </label>
        <label className="choice">
          <input type="checkbox" name="sound" checked={sound} onChange={(e) => toggleSound(e.target.checked)} />
          {t('alerts.sound')}
        </label>
      </div>
      <p role="status" aria-live="polite" data-testid="alerts-news">
        {news > 0 ? t('alerts.news', { count: news }) : ''}
      </p>
      <Refusal error={alerts.error} />
      {rows?.length === 0 && <p>{t('common.none')}</p>}
      <Table
        label={t('alerts.heading')}
        testId="alerts"
        head={[t('alerts.when'), t('alerts.kind'), t('common.site'), t('alerts.place'), t('entries.worker'), t('entries.reason'), t('alerts.deliveriesHeading'), t('alerts.acknowledgement')]}
      >
        {rows?.map((a) => (
          <tr key={a.alertId} data-alert={a.alertId} className={fresh.has(a.alertId) ? 'fresh' : a.acknowledgedAtMs === null ? 'unacknowledged' : ''}>
            <td>
              <a href={`#alerts/${a.alertId}`}>{when(a.atMs)}</a>
            </td>
            <td>
              {kindText(a.kind)}
              <br />
              <small>{t(`alerts.categories.${a.category}`, { defaultValue: a.category })}</small>
            </td>
            <td>{a.siteId ?? '—'}</td>
            <td>{[a.checkpointId, a.deviceId].filter(Boolean).join(' · ') || '—'}</td>
            <td>{a.workerId ? `${a.workerName ?? ''} (${a.workerId})` : '—'}</td>
            <td>
              {a.reasons.map(reasonText).join('; ')}
              {a.note ? <small> — {a.note}</small> : null}
            </td>
            <td>
              <Deliveries deliveries={a.deliveries} />
            </td>
            <td>
              <AckButton alert={a} me={me} done={alerts.reload} />
            </td>
          </tr>
        ))}
      </Table>
      <div className="row">
        {pages.length > 0 && (
          <button type="button" onClick={() => setPages([])}>
            {t('alerts.newest')}
          </button>
        )}
        {alerts.data?.next && (
          <button type="button" data-testid="alerts-older" onClick={() => setPages((p) => [...p, alerts.data!.next!])}>
            {t('alerts.older')}
          </button>
        )}
      </div>
    </section>
  );
}

function Recipients({ me }: { me: Me }) {
  const { t } = useTranslation();
  const recipients = useLoad<Recipient[]>('/api/alert-recipients');
  const orgs = useLoad<Organisation[]>(me.role === 'operator' ? '/api/organisations' : undefined);
  const sites = useLoad<Site[]>('/api/sites');
  const [orgId, setOrgId] = useState(me.org ?? '');
  const [siteId, setSiteId] = useState('');
  const [channel, setChannel] = useState<'email' | 'webhook'>('email');
  const [address, setAddress] = useState('');
  const [categories, setCategories] = useState<string[]>([]);
  const [secret, setSecret] = useState<string | undefined>();
  const add = useChange(recipients.reload);
  const drop = useChange(recipients.reload);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSecret(undefined);
    void add
      .run(async () => {
        const r = await post<Recipient>('/api/alert-recipients', {
          orgId: orgId || null,
          siteId: siteId || null,
          channel,
          address: address.trim(),
          ...(categories.length ? { categories } : {}),
        });
        if (r.secret) setSecret(r.secret);
      })
      .then((ok) => ok && setAddress(''));
  };
  const siteChoices = (sites.data ?? []).filter((s) => !orgId || s.orgId === orgId);
  return (
    <section aria-labelledby="recipients-heading" data-testid="recipients">
      <h2 id="recipients-heading">{t('alerts.recipients.heading')}</h2>
      <Refusal error={recipients.error ?? drop.error} />
      {recipients.data?.length === 0 && <p>{t('common.none')}</p>}
      <Table label={t('alerts.recipients.heading')} testId="recipient-list" head={[t('common.organisation'), t('common.site'), t('alerts.recipients.channel'), t('alerts.recipients.address'), t('alerts.recipients.categories'), '']}>
        {recipients.data?.map((r) => (
          <tr key={r.recipientId} data-recipient={r.recipientId}>
            <td>{r.orgId ?? t('alerts.recipients.province')}</td>
            <td>{r.siteId ?? t('common.anySite')}</td>
            <td>{t(`alerts.channel.${r.channel}`)}</td>
            <td>{r.address}</td>
            <td>{r.categories?.map((c) => t(`alerts.categories.${c}`)).join(', ') ?? t('alerts.recipients.allCategories')}</td>
            <td>
              <button type="button" onClick={() => void drop.run(() => remove(`/api/alert-recipients/${encodeURIComponent(r.recipientId)}`))}>
                {t('alerts.recipients.remove')}
              </button>
            </td>
          </tr>
        ))}
      </Table>
      <form className="card" onSubmit={submit} aria-labelledby="recipient-add-heading">
        <h3 id="recipient-add-heading">{t('alerts.recipients.add')}</h3>
        <div className="row">
          {me.role === 'operator' && (
            <label>
              {t('common.organisation')}
              <select name="recipient-org" value={orgId} onChange={(e) => (setOrgId(e.target.value), setSiteId(''))}>
                <option value="">{t('alerts.recipients.province')}</option>
                {orgs.data?.map((o) => (
                  <option key={o.id} value={o.id}>
                    {o.id} — {o.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label>
            {t('common.site')}
            <select name="recipient-site" value={siteId} onChange={(e) => setSiteId(e.target.value)}>
              <option value="">{t('common.anySite')}</option>
              {siteChoices.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.id} — {s.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t('alerts.recipients.channel')}
            <select name="recipient-channel" value={channel} onChange={(e) => setChannel(e.target.value as 'email' | 'webhook')}>
              <option value="email">{t('alerts.channel.email')}</option>
              <option value="webhook">{t('alerts.channel.webhook')}</option>
            </select>
          </label>
          <label>
            {channel === 'email' ? t('alerts.recipients.emailAddress') : t('alerts.recipients.webhookUrl')}
            <input name="recipient-address" type={channel === 'email' ? 'email' : 'url'} required maxLength={2000} value={address} onChange={(e) => setAddress(e.target.value)} />
          </label>
        </div>
        <fieldset>
          <legend>{t('alerts.recipients.categories')}</legend>
          {CATEGORIES.map((c) => (
            <label key={c} className="choice">
              <input type="checkbox" checked={categories.includes(c)} onChange={(e) => setCategories((cs) => (e.target.checked ? [...cs, c] : cs.filter((x) => x !== c)))} />
              {t(`alerts.categories.${c}`)}
            </label>
          ))}
        </fieldset>
        <small>{t('alerts.recipients.hint')}</small>
        <button type="submit" disabled={add.busy}>
          {t('alerts.recipients.add')}
        </button>
        <Refusal error={add.error} />
        {secret && (
          <p className="ok" data-testid="recipient-secret">
            {t('alerts.recipients.secretOnce')} <code>{secret}</code>
          </p>
        )}
      </form>
    </section>
  );
}

/** The alert book live, one alert (`#alerts/<id>`), and who is told (operators and managers). */
export function AlertsPage({ me, alertId }: { me: Me; alertId?: string | undefined }) {
  if (alertId) return <AlertDetail alertId={alertId} me={me} />;
  return (
    <>
      <AlertList me={me} />
      {me.role !== 'health' && <Recipients me={me} />}
    </>
  );
}
