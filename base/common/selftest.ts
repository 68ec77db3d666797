/**
 * The self-test's words, shared by `safegate selftest` and the supervisor screen: the checks' fixed
 * names (`safegate selftest --json` prints them; scripts and the upgrade rollback read them) and one
 * result per check.
 */
export const SELFTEST_CHECKS = [
  'settings',
  'scanner',
  'gpio',
  'camera',
  'clock',
  'gps',
  'disk',
  'database',
  'broker',
  'hub-keys',
  'data-ages',
  'certificate',
] as const;
export type SelftestCheckName = (typeof SELFTEST_CHECKS)[number];

export const SELFTEST_STATUSES = ['pass', 'warn', 'fail'] as const;
/** pass: fine; warn: works, or was not tried, but someone should look; fail: the kiosk cannot do its job as set up. */
export type SelftestStatus = (typeof SELFTEST_STATUSES)[number];

/** One check's answer. `detail` says what was seen (never a scanned code's text, a key or a token); `action` what to do. */
export interface SelftestResult {
  check: SelftestCheckName;
  status: SelftestStatus;
  detail: string;
  action?: string;
}
