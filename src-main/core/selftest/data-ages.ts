import { fail, pass, warn, type CheckOutcome } from './check.js';

/** When the hub last confirmed the roster and the policy current, and the policy's limit. */
export interface DataAgeFigures {
  rosterCheckedAtMs: number | null;
  policyCheckedAtMs: number | null;
  /** The policy's maxDataAgeHours, in seconds. */
  maxAgeS: number;
}

const hours = (s: number) => `${Math.round((s / 3600) * 10) / 10} h`;

/**
 * How old the downloaded data is against the policy's limit (the gate refuses with DATA_TOO_OLD
 * beyond it): over the limit or never confirmed, fail; over half of it, warn.
 */
export function dataAgesCheck(input: { syncs: boolean; figures: (() => DataAgeFigures) | null; nowMs: number }): CheckOutcome {
  if (!input.syncs) return pass('no hub in the settings (standalone): no downloaded data to age');
  if (!input.figures) return warn('no database yet: nothing downloaded', 'start the kiosk once with the hub reachable');
  const f = input.figures();
  const age = (at: number | null) => (at === null ? null : Math.max(0, (input.nowMs - at) / 1000));
  const roster = age(f.rosterCheckedAtMs);
  const policy = age(f.policyCheckedAtMs);
  const text = (name: string, a: number | null) => `${name} ${a === null ? 'never confirmed by the hub' : `confirmed ${hours(a)} ago`}`;
  const detail = `${text('roster', roster)}, ${text('policy', policy)} (limit ${hours(f.maxAgeS)})`;
  const worst = roster === null || policy === null ? Number.POSITIVE_INFINITY : Math.max(roster, policy);
  if (worst > f.maxAgeS) return fail(detail, 'the kiosk has not heard from the hub for too long (gates refuse with DATA_TOO_OLD): check the broker check, the network and the hub');
  if (worst > f.maxAgeS / 2) return warn(detail, 'check that the kiosk stays connected to the hub');
  return pass(detail);
}
