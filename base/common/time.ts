import { TZDate, tz } from '@date-fns/tz';
// Function by function: the package's index loads every one of its modules (~20 MB in a Node
// process); dates are written with Intl, which the platform has anyway.
import { addDays } from 'date-fns/addDays';
import { startOfDay } from 'date-fns/startOfDay';
import { z } from 'zod';

/**
 * Time as the province lives it. Every day boundary ("today" on the supervisor screen, daily
 * reports, deadlines such as 15:00 for test results, a plain date in a CSV) is taken in one province
 * time zone, whatever zone the machine itself is set to. Isomorphic (the screens use it too).
 */

/** Vietnam has one zone (UTC+7, no daylight saving); a setting so a deployment elsewhere can change it. */
export const DEFAULT_TIME_ZONE = 'Asia/Ho_Chi_Minh';

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const timeZoneSchema = z
  .string()
  .refine(isTimeZone, 'not a time zone this system knows (an IANA name such as Asia/Ho_Chi_Minh)')
  .default(DEFAULT_TIME_ZONE)
  .describe('the province time zone: every day boundary ("today", daily reports, deadlines) is taken in it');

/** Midnight at the start of the day that holds `ms`, in the zone (epoch ms). */
export function startOfDayIn(ms: number, zone: string): number {
  return startOfDay(ms, { in: tz(zone) }).getTime();
}

/** The day that holds `ms`, in the zone: [midnight, next midnight). */
export function dayRangeIn(ms: number, zone: string): { fromMs: number; toMs: number } {
  const start = startOfDay(ms, { in: tz(zone) });
  return { fromMs: start.getTime(), toMs: addDays(start, 1).getTime() };
}

const partsFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of an instant in a zone, zero-padded. */
function wallClockIn(ms: number, zone: string): Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', string> {
  let f = partsFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    partsFormats.set(zone, f);
  }
  const out = { year: '', month: '', day: '', hour: '', minute: '', second: '' };
  for (const p of f.formatToParts(ms)) if (p.type in out) out[p.type as keyof typeof out] = p.value;
  out.year = out.year.padStart(4, '0');
  return out;
}

/** The calendar date that holds `ms` in the zone, as YYYY-MM-DD (file names, report keys). */
export function dayKeyIn(ms: number, zone: string): string {
  const w = wallClockIn(ms, zone);
  return `${w.year}-${w.month}-${w.day}`;
}

/** Date and time in the zone as `YYYY-MM-DD HH:mm:ss` (logs and exports people read). */
export function localTimeIn(ms: number, zone: string): string {
  const w = wallClockIn(ms, zone);
  return `${w.year}-${w.month}-${w.day} ${w.hour}:${w.minute}:${w.second}`;
}

/** Date and time in the zone as `YYYY-MM-DDTHH:mm`, the value of an HTML datetime-local input. */
export function dateTimeInputIn(ms: number, zone: string): string {
  const w = wallClockIn(ms, zone);
  return `${w.year}-${w.month}-${w.day}T${w.hour}:${w.minute}`;
}

/** The instant at a time of day ("15:00") on the day that holds `ms`, in the zone. */
export function timeOfDayIn(ms: number, hhmm: string, zone: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new RangeError(`expected a time of day as HH:MM, got "${hhmm}"`);
  const day = new TZDate(startOfDayIn(ms, zone), zone);
  return new TZDate(day.getFullYear(), day.getMonth(), day.getDate(), Number(m[1]), Number(m[2]), 0, 0, zone).getTime();
}

/** Whole seconds from a past time to now (never negative); null when there is no such time. */
export function secondsSince(ms: number | null, nowMs: number): number | null {
  return ms === null ? null : Math.max(0, Math.round((nowMs - ms) / 1000));
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export const ISO_INSTANT_HINT = 'an ISO 8601 date or time, e.g. 2026-12-31 or 2026-12-31T17:00:00+07:00';

/**
 * Reads an ISO 8601 date or date-time, the one rule for every time a person or a file gives us:
 * a plain date is the start of that day in the province zone, a time without an offset is in the
 * province zone, a time with `Z` or an offset is exactly that. Impossible dates (30 February) are
 * refused. Returns epoch ms, or an Error naming what is wrong.
 */
export function parseInstant(text: string, zone: string): number | RangeError {
  const m = ISO.exec(text.trim());
  if (!m) return new RangeError(`expected ${ISO_INSTANT_HINT}, got "${text}"`);
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', offset] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const daysInMonth = month >= 1 && month <= 12 ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 0;
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return new RangeError(`not a real date or time: "${text}"`);
  if (offset === undefined) return new TZDate(year, month - 1, day, hour, minute, second, ms, zone).getTime();
  let offsetMin = 0;
  if (offset !== 'Z') {
    const digits = offset.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 14 || om > 59) return new RangeError(`not a real time zone offset: "${offset}"`);
    offsetMin = (offset.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
}
