import { sql } from 'kysely';
import { DENY_REASONS, type DenyReason } from '../../../base/common/reasons.js';
import { dayKeyIn, dayRangeIn, localTimeIn, parseInstant } from '../../../base/common/time.js';
import type { HubDirectory, ListCompliance } from '../directory.js';
import { inList } from '../hub-sql.js';
import type { HubStore } from '../store.js';
import { ALERT_CATEGORIES, type AlertCategory } from '../notify/alert-book.js';

/**
 * A day's summary (province time zone) for one organisation or for the province (issue 11, Reports):
 * passages allowed and denied with the denials by reason, the allowed entries (passages in, not out), alerts raised and acknowledged, kiosks
 * silent for longer than the alerts threshold, and where each organisation stands against CV 2242
 * (list age, today's list before 15:00). Everything is counted by the databases (the store's
 * eventCounts, one GROUP BY over the alert book), never by loading events.
 *
 * What belongs to an organisation: the passages stamped with it (its list held the worker when the
 * hub received them, as the console's entries page counts), its alerts (and those of no organisation
 * at its sites: a gate's, a silent kiosk's), the kiosks at its sites and at checkpoints serving it.
 *
 * Health reasons are kept by code here (aggregate counts); whoever shows a summary to someone who
 * may not read health data passes it through `withoutHealthReasons` first (the console for
 * operators, every e-mail), as the console's operations page hides them.
 */

/** What stands in for every health reason where health data may not be shown (the console's word too). */
export const HEALTH_REASONS_HIDDEN = 'HEALTH';

export interface DailySummary {
  /** The day, YYYY-MM-DD in the province zone. */
  day: string;
  /** The organisation, or null for the province. */
  orgId: string | null;
  fromMs: number;
  toMs: number;
  /** When the figures that are a state, not a count (silent kiosks, lists), were read: the end of the day, or now for today. */
  asOfMs: number;
  /** Every passage (in and out), allowed or denied; `entries`: the allowed ones into a checkpoint (the day's entries, as the issue counts them). */
  passages: { total: number; allowed: number; denied: number; entries: number };
  /** Denied passages by reason (a passage refused for two reasons counts under each). */
  deniedByReason: Record<string, number>;
  alerts: { raised: number; acknowledged: number; byCategory: Partial<Record<AlertCategory, { raised: number; acknowledged: number }>> };
  silentKiosks: { deviceId: string; siteId: string; lastSeenMs: number | null }[];
  /** The organisation's standing (one), or every organisation's for the province. */
  lists: ListCompliance[];
}

export interface SummarySources {
  directory: HubDirectory;
  store: HubStore;
  zone: string;
  /** A kiosk not heard from for longer than this is silent (the alerts' threshold, `alerts.silentKioskMinutes`). */
  silentAfterMs: number;
}

export class SummaryError extends Error {
  override name = 'SummaryError';
}

/** The start of a day given as YYYY-MM-DD in the zone; a clear refusal for anything else. */
export function dayStartOf(day: string, zone: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new SummaryError(`date: expected YYYY-MM-DD, got ${JSON.stringify(day)}`);
  const ms = parseInstant(day, zone);
  if (ms instanceof Error) throw new SummaryError(`date: ${ms.message}`);
  return ms;
}

/**
 * The summary of `day` (YYYY-MM-DD in the province zone; default today) for `orgId` (default the
 * province). An unknown organisation or a day after today is refused (SummaryError).
 */
export async function dailySummary(src: SummarySources, options: { day?: string; orgId?: string }, nowMs: number): Promise<DailySummary> {
  const { directory, store, zone } = src;
  const day = options.day ?? dayKeyIn(nowMs, zone);
  const { fromMs, toMs } = dayRangeIn(dayStartOf(day, zone), zone);
  if (fromMs > nowMs) throw new SummaryError(`date: ${day} has not begun in the province`);
  const orgId = options.orgId ?? null;
  if (orgId !== null && !(await directory.hasOrganisation(orgId))) throw new SummaryError(`no organisation ${orgId}`);
  const asOfMs = Math.min(nowMs, toMs - 1);

  const counts = await store.eventCounts({ sinceMs: fromMs, untilMs: toMs, passagesOnly: true, ...(orgId !== null ? { orgId } : {}) });
  const passages = { total: 0, allowed: 0, denied: 0, entries: 0 };
  // The allowed entries: events carry their direction, counted by the store too (one more GROUP BY over the day).
  for (const c of await store.eventCounts({ sinceMs: fromMs, untilMs: toMs, direction: 'entry', passagesOnly: true, ...(orgId !== null ? { orgId } : {}) })) {
    if (c.decision === 'allow') passages.entries += c.count;
  }
  const deniedByReason: Record<string, number> = {};
  for (const c of counts) {
    passages.total += c.count;
    if (c.decision === 'allow') passages.allowed += c.count;
    else if (c.decision === 'deny') {
      passages.denied += c.count;
      for (const r of new Set(c.reasons)) deniedByReason[r] = (deniedByReason[r] ?? 0) + c.count;
    }
  }

  // The organisation's sites, and the devices it is served by (its sites', its checkpoints').
  const sites = await directory.sites();
  const checkpoints = await directory.checkpoints();
  const ownSites = orgId === null ? undefined : new Set((await directory.registeredSites(orgId)).map((s) => s.id));
  const kiosks = new Map<string, string>();
  for (const [siteId, devices] of sites) if (!ownSites || ownSites.has(siteId)) for (const d of devices) kiosks.set(d, siteId);
  for (const c of checkpoints) if (orgId === null || c.orgIds.includes(orgId)) for (const d of c.devices) kiosks.set(d, c.siteId);
  const ids = [...kiosks.keys()].sort();
  const status = await store.deviceStatus(ids);
  const silentKiosks = ids
    .map((deviceId) => ({ deviceId, siteId: kiosks.get(deviceId)!, lastSeenMs: status.get(deviceId)?.lastSeenMs ?? null }))
    .filter((k) => k.lastSeenMs === null || asOfMs - k.lastSeenMs > src.silentAfterMs);

  const alerts = await alertCounts(directory, orgId, ownSites ? [...ownSites] : undefined, fromMs, toMs);
  const lists = (await directory.listCompliance(asOfMs, zone)).filter((l) => orgId === null || l.orgId === orgId);
  return { day, orgId, fromMs, toMs, asOfMs, passages, deniedByReason, alerts, silentKiosks, lists };
}

/** The day's alerts from the alert book (directory migration 0016), by category, counted by the database. */
async function alertCounts(directory: HubDirectory, orgId: string | null, orgSites: string[] | undefined, fromMs: number, toMs: number): Promise<DailySummary['alerts']> {
  const ofOrg = orgId === null ? sql`` : sql`AND (org_id = ${orgId} OR (org_id IS NULL AND site_id IN ${inList(orgSites ?? [])}))`;
  const rows = await directory.sql.all<{ category: AlertCategory; raised: number; acknowledged: number }>(
    sql`SELECT category, count(*) AS raised, count(acknowledged_ms) AS acknowledged FROM hub_alert_book
        WHERE raised_ms >= ${fromMs} AND raised_ms < ${toMs} ${ofOrg} GROUP BY category`,
  );
  const out: DailySummary['alerts'] = { raised: 0, acknowledged: 0, byCategory: {} };
  for (const r of rows) {
    const raised = Number(r.raised);
    const acknowledged = Number(r.acknowledged);
    out.raised += raised;
    out.acknowledged += acknowledged;
    out.byCategory[r.category] = { raised, acknowledged };
  }
  return out;
}

/** The summary with every health reason counted as one (HEALTH_REASONS_HIDDEN): for whoever may not read health data, and every e-mail. */
export function withoutHealthReasons(s: DailySummary): DailySummary {
  const deniedByReason: Record<string, number> = {};
  for (const [reason, n] of Object.entries(s.deniedByReason)) {
    const shown = DENY_REASONS[reason as DenyReason]?.sensitive ? HEALTH_REASONS_HIDDEN : reason;
    deniedByReason[shown] = (deniedByReason[shown] ?? 0) + n;
  }
  return { ...s, deniedByReason };
}

const CATEGORY_WORDS: Record<AlertCategory, { vi: string; en: string }> = {
  health: { vi: 'sức khỏe', en: 'health' },
  override: { vi: 'quản lý cho qua', en: 'supervisor override' },
  gate: { vi: 'cổng', en: 'gate' },
  device: { vi: 'thiết bị', en: 'device' },
  compliance: { vi: 'tuân thủ CV 2242', en: 'CV 2242 compliance' },
};

const TODAYS_LIST_WORDS: Record<ListCompliance['todaysList'], { vi: string; en: string }> = {
  'before-deadline': { vi: 'đã cập nhật trước 15:00', en: 'updated before 15:00' },
  'not-yet': { vi: 'chưa cập nhật (chưa đến 15:00)', en: 'not yet updated (before 15:00)' },
  late: { vi: 'cập nhật sau 15:00', en: 'updated after 15:00' },
  missing: { vi: 'không cập nhật', en: 'not updated' },
};

function reasonWords(reason: string, lang: 'vi' | 'en'): string {
  if (reason === HEALTH_REASONS_HIDDEN) return lang === 'vi' ? 'Lý do sức khỏe (gộp)' : 'Health reasons (together)';
  return DENY_REASONS[reason as DenyReason]?.[lang] ?? reason;
}

const hours = (ms: number | null) => (ms === null ? null : Math.floor(ms / 3_600_000));

/**
 * The summary as lines of text in one language (the e-mail's halves, the CLI's English): counts only,
 * no worker; the console link last when given.
 */
export function summaryText(s: DailySummary, orgName: string | null, zone: string, lang: 'vi' | 'en', consoleUrl?: string): string {
  const vi = lang === 'vi';
  const who = s.orgId === null ? (vi ? 'toàn tỉnh' : 'the province') : `${orgName ?? s.orgId} (${s.orgId})`;
  const lines = [
    vi ? `Báo cáo ngày ${s.day} — ${who}` : `Daily summary for ${s.day} — ${who}`,
    vi ? `(số liệu đến ${localTimeIn(s.asOfMs, zone)}, giờ của tỉnh)` : `(figures as of ${localTimeIn(s.asOfMs, zone)}, province time)`,
    '',
    vi
      ? `Lượt qua cổng: ${s.passages.total} (cho phép ${s.passages.allowed}, trong đó lượt vào ${s.passages.entries}; từ chối ${s.passages.denied})`
      : `Passages: ${s.passages.total} (allowed ${s.passages.allowed}, of which entries ${s.passages.entries}; denied ${s.passages.denied})`,
  ];
  for (const [r, n] of Object.entries(s.deniedByReason).sort((a, b) => b[1] - a[1])) lines.push(`  - ${reasonWords(r, lang)}: ${n}`);
  lines.push(vi ? `Cảnh báo: ${s.alerts.raised} (đã xác nhận ${s.alerts.acknowledged})` : `Alerts: ${s.alerts.raised} (acknowledged ${s.alerts.acknowledged})`);
  for (const c of ALERT_CATEGORIES) {
    const b = s.alerts.byCategory[c];
    if (b) lines.push(`  - ${CATEGORY_WORDS[c][lang]}: ${b.raised} (${vi ? 'đã xác nhận' : 'acknowledged'} ${b.acknowledged})`);
  }
  lines.push(vi ? `Thiết bị mất liên lạc: ${s.silentKiosks.length}` : `Silent kiosks: ${s.silentKiosks.length}`);
  for (const k of s.silentKiosks) {
    const seen = k.lastSeenMs === null ? (vi ? 'chưa từng' : 'never') : localTimeIn(k.lastSeenMs, zone);
    lines.push(`  - ${k.deviceId} (${k.siteId}): ${vi ? 'lần cuối' : 'last heard'} ${seen}`);
  }
  lines.push(vi ? 'Danh sách người lao động (CV 2242):' : 'Worker lists (CV 2242):');
  for (const l of s.lists) {
    const age = hours(l.listAgeMs);
    const ageText = age === null ? (vi ? 'chưa có danh sách' : 'no list yet') : vi ? `cập nhật ${age} giờ trước` : `updated ${age} h ago`;
    const flag = l.outOfCompliance ? (vi ? ' — QUÁ 3 NGÀY' : ' — OLDER THAN 3 DAYS') : '';
    lines.push(`  - ${l.orgId}: ${ageText}${flag}; ${vi ? 'hôm nay' : 'today'} ${TODAYS_LIST_WORDS[l.todaysList][lang]}`);
  }
  if (consoleUrl !== undefined) {
    const link = `${consoleUrl.replace(/\/+$/, '')}/#reports`;
    lines.push('', vi ? `Xem chi tiết trên bảng điều khiển: ${link}` : `Details in the console: ${link}`);
  }
  return lines.join('\n');
}

/**
 * The summary as an e-mail (Vietnamese, then English): counts only, health reasons as one count,
 * no worker, and the console link for the rest. `s` must have passed `withoutHealthReasons`.
 */
export function summaryEmail(s: DailySummary, orgName: string | null, zone: string, consoleUrl: string): { subject: string; text: string } {
  const who = { vi: s.orgId === null ? 'toàn tỉnh' : `${orgName ?? s.orgId} (${s.orgId})`, en: s.orgId === null ? 'the province' : `${orgName ?? s.orgId} (${s.orgId})` };
  return {
    subject: `[SafeGate] Báo cáo ngày ${s.day} — ${who.vi} / Daily summary ${s.day} — ${who.en}`,
    text: `${summaryText(s, orgName, zone, 'vi', consoleUrl)}\n\n----\n\n${summaryText(s, orgName, zone, 'en', consoleUrl)}\n`,
  };
}
