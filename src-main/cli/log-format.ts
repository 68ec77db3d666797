import { localTimeIn } from '../../base/common/time.js';
import type { GateEvent } from '../../base/common/types.js';

/**
 * How `safegate log` writes times: the province's local time with its offset shown
 * (`2026-11-27 14:03:05 +07`), or UTC (`2026-11-27 07:03:05 UTC`). JSON lines carry ISO 8601 UTC.
 */
export type LogClock = { zone: string } | 'utc';

/** `2026-11-27 14:03:05 +07` in the zone (`+05:30` where the offset has minutes), or `... UTC`. */
export function formatLogTime(ms: number, clock: LogClock): string {
  if (clock === 'utc') return `${localTimeIn(ms, 'UTC')} UTC`;
  const local = localTimeIn(ms, clock.zone);
  // The offset is what the wall clock reads minus the instant (seconds dropped: zones have none).
  const wallAsUtc = Date.parse(`${local.replace(' ', 'T')}Z`);
  const offsetMin = Math.round((wallAsUtc - Math.floor(ms / 1000) * 1000) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = abs % 60 ? `:${String(abs % 60).padStart(2, '0')}` : '';
  return `${local} ${sign}${hh}${mm}`;
}

/** One event as a line people read: sequence, time (a `?` when the clock was not synchronised), direction, decision, who, reasons. */
export function formatEventLine(e: GateEvent, clock: LogClock): string {
  const who = e.workerId ?? `#${e.codeHash?.slice(0, 8) ?? '?'}`;
  const when = formatLogTime(e.wallMs, clock) + (e.clockSynced ? '' : '?');
  return [String(e.seq).padStart(7), when, e.direction.padEnd(5), e.decision.toUpperCase().padEnd(5), who.padEnd(16), e.reasons.join(',')]
    .join('  ')
    .trimEnd();
}

/** One event as a JSON line: the event as stored, with its time also as ISO 8601 UTC. */
export function eventJsonLine(e: GateEvent): string {
  return JSON.stringify({ ...e, wallTime: new Date(e.wallMs).toISOString() });
}
