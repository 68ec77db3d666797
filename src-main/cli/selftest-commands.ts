import type { Command } from 'commander';
import type { BrokerSettings } from '../../base/common/broker-settings.js';
import type { SelftestResult } from '../../base/common/selftest.js';
import { CliError } from './cli-error.js';

/** `20s`, `90`, `2m`, `500ms` to milliseconds (1 s to 10 min); anything else is refused. */
export function parseScanTimeout(text: string): number {
  const m = /^(\d{1,6})(ms|s|m)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1_000) : NaN;
  if (!Number.isFinite(ms) || ms < 1_000 || ms > 600_000) throw new CliError(`--scan-timeout: expected a time from 1s to 10m, e.g. 20s or 2m, got "${text.slice(0, 40)}"`, 2);
  return ms;
}

const DEFAULT_SCAN_TIMEOUT_MS = 20_000;

/** `PASS  settings     detail — what to do`: one line per check. */
export function selftestLine(r: SelftestResult): string {
  return `${r.status.toUpperCase()}  ${r.check.padEnd(11)}  ${r.detail}${r.action ? ` — ${r.action}` : ''}`;
}

/**
 * One JSON object per check with exactly the issue's keys: check, status, detail. What to do, when
 * there is something, goes into detail after " — what to do: " (scripts that check the shape strictly
 * take every line).
 */
export function selftestJsonLine(r: SelftestResult): string {
  return JSON.stringify({ check: r.check, status: r.status, detail: r.action ? `${r.detail} — what to do: ${r.action}` : r.detail });
}

export interface SelftestOptions {
  config: string;
  json?: boolean;
  scan?: boolean;
  scanTimeout?: string;
  clickRelay?: boolean;
}

/**
 * `safegate selftest --config FILE [--json] [--scan-timeout 20s] [--no-scan] [--[no-]click-relay]`: every check of
 * src-main/core/selftest, one line each as soon as it is known; exit status 1 when any failed.
 * The operator is asked to scan a code when the command runs at a terminal, or when --scan-timeout
 * is given (a script or a remote session that has someone at the kiosk).
 */
export async function runSelftestCommand(o: SelftestOptions, scanTimeoutGiven: boolean): Promise<number> {
  const timeoutMs = o.scanTimeout !== undefined ? parseScanTimeout(o.scanTimeout) : DEFAULT_SCAN_TIMEOUT_MS;
  const [{ commandChecks, runSelftest, selftestExitCode }, { loadSettingsForRun }] = await Promise.all([import('../core/selftest/index.js'), import('../core/config.js')]);
  const interactive = Boolean(process.stdin.isTTY) && o.scan !== false;
  const ask = o.scan !== false && (Boolean(process.stdin.isTTY) || scanTimeoutGiven);
  // The relay moves only for someone at the gate: --click-relay, or a run at the kiosk's terminal that
  // asks for a scan (--no-click-relay turns it off there). Never in an unattended (--no-scan, no TTY) run.
  const clickRelay = o.clickRelay ?? interactive;
  // With --json, stdout carries the results only; the question goes to stderr.
  const say = (text: string) => (o.json ? process.stderr : process.stdout).write(`${text}\n`);
  const results = await runSelftest(
    commandChecks({
      loadSettings: () => loadSettingsForRun(o.config),
      brokerProbe: probeBroker,
      scan: ask ? { timeoutMs, prompt: (text) => say(`>>> ${text}`) } : null,
      clickRelay,
    }),
    (r) => process.stdout.write(`${o.json ? selftestJsonLine(r) : selftestLine(r)}\n`),
  );
  return selftestExitCode(results);
}

/** Connects as this device with its certificate, waits for the broker's CONNACK, and disconnects. */
export async function probeBroker(broker: BrokerSettings, clientId: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; fault: 'auth' | 'network'; detail: string }> {
  const [{ default: mqtt }, { mqttOptions, classifyLinkError }] = await Promise.all([import('mqtt'), import('../../sync/mqtt-link.js')]);
  let options;
  try {
    options = { ...mqttOptions(broker, clientId), connectTimeout: timeoutMs };
  } catch (err) {
    return { ok: false, fault: 'auth', detail: `cannot read the TLS files: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  return new Promise((resolve) => {
    const client = mqtt.connect(broker.url, options);
    let settled = false;
    const done = (r: { ok: true } | { ok: false; fault: 'auth' | 'network'; detail: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end(true, () => resolve(r));
    };
    const timer = setTimeout(() => done({ ok: false, fault: 'network', detail: `no answer within ${Math.round(timeoutMs / 1000)} s` }), timeoutMs);
    client.on('connect', () => done({ ok: true }));
    client.on('error', (err) => done({ ok: false, fault: classifyLinkError(err), detail: (err.message || String(err)).split('\n')[0]!.slice(0, 200) }));
    client.on('close', () => done({ ok: false, fault: 'auth', detail: 'the broker closed the connection before accepting it' }));
  });
}

export function registerSelftestCommand(program: Command): void {
  program
    .command('selftest')
    .description('check this kiosk: settings, scanner (asks for a scan), GPIO, camera, clock, disk, database, broker, hub keys, data ages, certificate; exit status 1 if any check fails')
    .requiredOption('--config <file>', 'settings file')
    .option('--json', 'one JSON object per line per check, with exactly: check, status (pass|warn|fail), detail (with "— what to do: ..." when there is something to do)')
    .option('--scan-timeout <time>', 'how long to wait for the operator to scan a code (e.g. 20s, 1m; default 20s); asks even without a terminal')
    .option('--no-scan', 'do not ask for a scan (the scanner port is still opened)')
    .option('--click-relay', 'pulse the relay for 250 ms so the person at the gate hears it click (default only at a terminal that asks for a scan; never beside a running kiosk)')
    .option('--no-click-relay', 'only claim and let go the GPIO lines, even at a terminal')
    .action(async (o: SelftestOptions, cmd: Command) => {
      process.exitCode = await runSelftestCommand(o, cmd.getOptionValueSource('scanTimeout') === 'cli');
    });
}
