import type { SelftestCheckName, SelftestResult, SelftestStatus } from '../../../base/common/selftest.js';

/** What one check found; the runner adds the check's name. */
export interface CheckOutcome {
  status: SelftestStatus;
  detail: string;
  action?: string;
}

/**
 * One check: a small function over the ports it is given (files, a serial port, a broker probe), so
 * `safegate selftest` and the running kiosk (with its own live objects) share the same rules.
 */
export interface SelftestCheck {
  name: SelftestCheckName;
  /** The longest this check may take (the scanner's includes the operator's time to scan). */
  timeoutMs?: number;
  run(signal: AbortSignal): Promise<CheckOutcome> | CheckOutcome;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

export const pass = (detail: string): CheckOutcome => ({ status: 'pass', detail });
export const warn = (detail: string, action?: string): CheckOutcome => ({ status: 'warn', detail, ...(action ? { action } : {}) });
export const fail = (detail: string, action?: string): CheckOutcome => ({ status: 'fail', detail, ...(action ? { action } : {}) });

/** Error text for a detail: the message's first line, bounded. */
export function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message.split('\n')[0]! : String(err);
  return message.slice(0, 300);
}

/**
 * Runs the checks one after the other (the scanner check talks to the operator), each bounded in
 * time: one that throws or overruns is a fail with what went wrong, never a crash of the whole test.
 * `onResult` sees each result as soon as it is known (the command prints it at once).
 */
export async function runSelftest(checks: readonly SelftestCheck[], onResult: (r: SelftestResult) => void = () => {}): Promise<SelftestResult[]> {
  const results: SelftestResult[] = [];
  for (const check of checks) {
    const outcome = await runOne(check);
    const result: SelftestResult = { check: check.name, status: outcome.status, detail: outcome.detail, ...(outcome.action ? { action: outcome.action } : {}) };
    results.push(result);
    onResult(result);
  }
  return results;
}

async function runOne(check: SelftestCheck): Promise<CheckOutcome> {
  const timeoutMs = check.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve(fail(`no answer within ${Math.round(timeoutMs / 100) / 10} s`, 'run the self-test again; if this check keeps timing out, look at the kiosk\'s log'));
    }, timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => check.run(abort.signal)), overrun]);
  } catch (err) {
    return fail(`the check failed: ${errorText(err)}`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** The exit status of `safegate selftest`: 1 when any check failed. */
export function selftestExitCode(results: readonly SelftestResult[]): 0 | 1 {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
