import { dayKeyIn, localTimeIn } from '../../base/common/time.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import type { HubStore } from '../../sync/hub/store.js';
import { periodOf, TraceError, Tracer, traceOptionsOf, type TraceResult } from '../../sync/hub/trace.js';
import { CliError } from './errors.js';

export interface TraceCommandOptions {
  worker: string;
  from?: string | undefined;
  to?: string | undefined;
  secondDegree?: boolean | undefined;
  json?: boolean | undefined;
}

/**
 * `safegate hub trace --worker ID [--from T --to T] [--second-degree] [--json]`: the case's contacts
 * (F1; F2 on request) over the period (default the last 14 days; read as the console reads it: {@link periodOf}), from the hub store as `hub run`
 * opens it and the phone check-ins of the directory. Times in the province zone.
 */
export async function traceHubWorker(configFile: string, o: TraceCommandOptions, nowMs = Date.now()): Promise<string> {
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
      result = await tracer.trace({ workerId: o.worker, fromMs, toMs, secondDegree: Boolean(o.secondDegree) });
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
      g.rows.push(`    #${c.rank} ${c.workerId}  F${c.degree}  ${hhmm(x.fromMs, zone)} to ${hhmm(x.toMs, zone)}  ${minutes(x.overlapMinutes)}${marks.length ? `  ${marks.join(', ')}` : ''}`);
    }
  }
  lines.push('', 'Contacts by day and place:');
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)!;
    lines.push(`  ${g.day}  ${g.place}`, ...g.rows);
  }
  lines.push('', 'Ranked:');
  for (const c of r.contacts) {
    lines.push(`  ${String(c.rank).padStart(3)}. ${c.workerId}  F${c.degree}  ${minutes(c.overlapMinutes)}  ${c.exposures.length} exposure(s)  organisation ${c.orgId ?? '-'}${c.unverifiedClock ? '  clock unverified' : ''}`);
  }
  return lines.join('\n');
}
