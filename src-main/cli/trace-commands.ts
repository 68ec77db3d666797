import { dayKeyIn, localTimeIn } from '../../base/common/time.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import type { HubStore } from '../../sync/hub/store.js';
import { periodOf, TraceError, Tracer, traceOptionsOf, type TraceContact, type TracedVisit, type TraceResult } from '../../sync/hub/trace.js';
import { VISITOR_ID_PATTERN } from '../../base/common/visitor.js';
import { CliError } from './errors.js';

export interface TraceCommandOptions {
  /** The case: a worker (or `visitor`, exactly one of the two). */
  worker?: string | undefined;
  /** The case: a visitor's pseudonym (base/common/visitor.ts VISITOR_ID_PATTERN). */
  visitor?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  secondDegree?: boolean | undefined;
  json?: boolean | undefined;
}

/**
 * `safegate hub trace (--worker ID | --visitor PSEUDONYM) [--from T --to T] [--second-degree] [--json]`: the case's contacts
 * (F1; F2 on request) over the period (default the last 14 days; read as the console reads it: {@link periodOf}), from the hub store as `hub run`
 * opens it and the phone check-ins of the directory, the visitors on the case's sites while the case
 * was there, and a visitor case's own visits. Times in the province zone. A visitor's name, host and
 * purpose are printed (the officer needs them to find a visitor, who has left the site); they go to
 * the operator's terminal only, never to a log.
 */
export async function traceHubWorker(configFile: string, o: TraceCommandOptions, nowMs = Date.now()): Promise<string> {
  if ((o.worker === undefined) === (o.visitor === undefined)) throw new CliError('name the case: a worker (--worker ID) or a visitor (--visitor PSEUDONYM), one of them', 2);
  if (o.visitor !== undefined && !VISITOR_ID_PATTERN.test(o.visitor)) throw new CliError("--visitor: a visitor is named by the pseudonym the kiosk keeps, v<key id>.<32 hex digits> (never an ID card number)", 2);
  const loaded = loadHubSettings(configFile);
  const zone = loaded.settings.time.zone;
  // The console's period rule (a plain --to is the whole of that day; never past now).
  const period = periodOf(o.from, o.to, nowMs, zone);
  if (typeof period === 'string') throw new CliError(period.replace(/^(from|to)\b/, '--$1').replace(/ before to$/, ' before --to'), 2);
  const { fromMs, toMs } = period;

  const url = process.env.DATABASE_URL;
  // The hub store as `safegate hub run` opens it: PostgreSQL when DATABASE_URL is set, else the SQLite file.
  const store: HubStore = url ? await (await import('../../sync/hub/pg-store.js')).PgHubStore.open(url, 2) : new (await import('../../sync/hub/store.js')).SqliteHubStore(loaded.storePath);
  const directory = await HubDirectory.open(directoryTarget(loaded));
  try {
    // Phone check-ins are read from the directory's database as they are: no key is needed to read them.
    const tracer = new Tracer({ store, directory }, await traceOptionsOf(loaded.settings.trace, directory));
    let result: TraceResult;
    try {
      const theCase = o.visitor !== undefined ? { visitorId: o.visitor } : { workerId: o.worker! };
      result = await tracer.trace({ ...theCase, fromMs, toMs, secondDegree: Boolean(o.secondDegree) });
    } catch (err) {
      if (err instanceof TraceError) throw new CliError(err.message, 2);
      throw err;
    }
    return o.json ? JSON.stringify(result, null, 2) : formatTrace(result, zone);
  } finally {
    await directory.close();
    await store.close();
  }
}

const hhmm = (ms: number, zone: string) => localTimeIn(ms, zone).slice(11, 16);
const minutes = (m: number) => `${m.toFixed(1)} min`;
/** A visitor as an officer finds them: the name and the visit they gave, then the pseudonym. */
const visitorLabel = (id: string, v: TracedVisit | null | undefined) => (v ? `visitor ${v.name} (visiting ${v.host || '-'}, ${v.purpose || '-'}) ${id}` : `visitor ${id} (no registration at this hub)`);
const who = (c: TraceContact) => (c.kind === 'visitor' ? visitorLabel(c.workerId, c.visitor) : c.workerId);

/** The trace for a person to read: the case's presence, then contacts by place and day, then the ranked list. */
export function formatTrace(r: TraceResult, zone: string): string {
  const f1 = r.contacts.filter((c) => c.degree === 1).length;
  const f2 = r.contacts.length - f1;
  const lines = [
    `Trace of ${r.caseWorkerId} from ${localTimeIn(r.fromMs, zone)} to ${localTimeIn(r.toMs, zone)} (${zone}): ${f1} F1 contact(s)${f2 > 0 ? `, ${f2} F2` : ''}`,
    `(a canteen sitting is ${r.options.canteenWindowMinutes} min; an entry with no exit ends after ${r.options.resetHours} h)`,
    '',
    `Where ${r.caseWorkerId} was:`,
  ];
  if (r.casePresence.length === 0) lines.push('  nowhere that makes contacts (zones, teams, canteens, dormitories, buses) in this period');
  for (const p of r.casePresence) {
    lines.push(`  ${localTimeIn(p.fromMs, zone).slice(0, 16)} to ${hhmm(p.toMs, zone)}  ${p.place.kind} ${p.place.name} (${p.place.key})${p.source === 'phone' ? '  phone check-in' : ''}${p.unverifiedClock ? '  clock unverified' : ''}`);
  }
  if (r.caseKind === 'visitor') {
    lines.push('', `Visits of ${r.caseWorkerId}:`);
    if ((r.caseVisits ?? []).length === 0) lines.push('  none through a site gate in this period');
    for (const v of r.caseVisits ?? []) {
      lines.push(`  ${localTimeIn(v.enteredMs, zone).slice(0, 16)} to ${v.leftMs === null ? 'no exit' : localTimeIn(v.leftMs, zone).slice(0, 16)}  site ${v.siteId}  ${v.visitor ? `visiting ${v.visitor.host || '-'}, ${v.visitor.purpose || '-'}` : 'no registration at this hub'}${v.unverifiedClock ? '  clock unverified' : ''}`);
    }
  }
  const onSite = r.visitorsOnSite ?? [];
  lines.push('', `Visitors on the same site meanwhile (not contacts: a site is no narrow place): ${onSite.length}`);
  for (const v of onSite) {
    lines.push(`  ${localTimeIn(v.enteredMs, zone).slice(0, 16)} to ${v.leftMs === null ? 'no exit' : localTimeIn(v.leftMs, zone).slice(0, 16)}  site ${v.siteId}  ${minutes(v.overlapMinutes)}  ${visitorLabel(v.visitorId, v.visitor)}${v.unverifiedClock ? '  clock unverified' : ''}`);
  }
  if (r.contacts.length === 0) return [...lines, '', 'No contacts.'].join('\n');

  // Contacts by place and day (the day of each exposure's start, in the province zone).
  const groups = new Map<string, { day: string; place: string; rows: string[] }>();
  for (const c of r.contacts) {
    for (const x of c.exposures) {
      const day = dayKeyIn(x.fromMs, zone);
      const key = `${day}\u0000${x.place.kind}\u0000${x.place.key}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { day, place: `${x.place.kind} ${x.place.name} (${x.place.key})`, rows: [] }));
      const marks = [x.source === 'phone' ? 'phone check-in' : '', x.unverifiedClock ? 'clock unverified' : '', x.viaWorkerId ? `via ${x.viaWorkerId}` : ''].filter(Boolean);
      g.rows.push(`    #${c.rank} ${who(c)}  F${c.degree}  ${hhmm(x.fromMs, zone)} to ${hhmm(x.toMs, zone)}  ${minutes(x.overlapMinutes)}${marks.length ? `  ${marks.join(', ')}` : ''}`);
    }
  }
  lines.push('', 'Contacts by day and place:');
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)!;
    lines.push(`  ${g.day}  ${g.place}`, ...g.rows);
  }
  lines.push('', 'Ranked:');
  for (const c of r.contacts) {
    lines.push(`  ${String(c.rank).padStart(3)}. ${c.workerId}  F${c.degree}  ${minutes(c.overlapMinutes)}  ${c.exposures.length} exposure(s)  ${c.kind === 'visitor' ? visitorLabel(c.workerId, c.visitor) : `organisation ${c.orgId ?? '-'}`}${c.unverifiedClock ? '  clock unverified' : ''}`);
  }
  return lines.join('\n');
}
