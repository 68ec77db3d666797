import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceNotifier, watchdogIntervalMs } from '../../../base/node/sd-notify.js';
import { silentLogger } from '../../../base/node/logger.js';
import { safegateProcess } from '../../helpers/cli.js';
import { hubKeys, tempDir, waitFor, writeKioskConfig } from '../../helpers/fixtures.js';
import { FakeNotifySocket } from '../../helpers/notify-socket.js';

const CHILD = fileURLToPath(new URL('./sd-notify-child.mjs', import.meta.url));

/** A child process's stdout, line by line. */
function stdoutLines(child: ChildProcess): string[] {
  const lines: string[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    rest += chunk;
    const parts = rest.split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
  });
  return lines;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

describe('systemd notifications (base/node/sd-notify.ts)', () => {
  it('does nothing without NOTIFY_SOCKET, and reads the watchdog interval only when it is meant for this process', async () => {
    const off = new ServiceNotifier({ log: silentLogger, env: { WATCHDOG_USEC: '1000000' }, command: '/nonexistent/systemd-notify' });
    expect(off.enabled).toBe(false);
    expect(off.watchdogMs).toBeUndefined();
    off.start();
    await off.ready('up');
    await off.stop();

    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' })).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) })).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid + 1) })).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '0' })).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '-5' })).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '3e7' })).toBeUndefined();
    expect(watchdogIntervalMs({})).toBeUndefined();
  });

  it('sends READY=1 and a status to an abstract socket, in order, and a status can never add an assignment of its own', async () => {
    const socket = await FakeNotifySocket.open(`@safegate-test-${process.pid}-${Date.now()}`);
    cleanups.push(() => socket.close());
    const notifier = new ServiceNotifier({ log: silentLogger, env: { ...process.env, NOTIFY_SOCKET: socket.address } });
    expect(notifier.enabled).toBe(true);
    await notifier.ready('kiosk up');
    await notifier.status('line one\nWATCHDOG=1\nREADY=0');
    await notifier.stopping();
    await notifier.stopping(); // said once only
    await notifier.stop();
    await waitFor(() => (socket.with('STOPPING=1').length ? true : undefined), 'STOPPING=1');
    const messages = socket.datagrams.map((d) => d.msg).filter((m) => m !== 'BARRIER=1');
    expect(messages).toEqual([
      `MAINPID=${process.pid}\nREADY=1\nSTATUS=kiosk up`,
      `MAINPID=${process.pid}\nSTATUS=line one WATCHDOG=1 READY=0`,
      `MAINPID=${process.pid}\nSTOPPING=1`,
    ]);
  });

  it('a real child pings the watchdog from its event loop: the pings stop while the loop is blocked and come back after', async () => {
    const dir = tempDir('safegate-sd-notify-');
    cleanups.push(() => dir.remove());
    const socket = await FakeNotifySocket.open(join(dir.path, 'notify.sock'));
    cleanups.push(() => socket.close());
    const blockMs = 3_000;
    // Pings every 250 ms (WATCHDOG_USEC/2).
    const child = spawn(process.execPath, [CHILD, String(blockMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NOTIFY_SOCKET: socket.address, WATCHDOG_USEC: '500000' },
    });
    cleanups.push(() => stopChild(child));
    const out = stdoutLines(child);

    const ready = await waitFor(() => socket.with('READY=1')[0], 'READY=1', 30_000);
    expect(ready.msg.split('\n')).toEqual([`MAINPID=${child.pid}`, 'READY=1', 'STATUS=child up']);
    await waitFor(() => (socket.with('WATCHDOG=1').length >= 4 ? true : undefined), 'four watchdog pings', 30_000);

    child.kill('SIGUSR2');
    const until = await waitFor(() => out.map((l) => (l.startsWith('{"blockedUntil"') ? (JSON.parse(l) as { blockedUntil: number }).blockedUntil : undefined)).find((v) => v !== undefined), 'the loop unblocked', 20_000);
    const from = out.map((l) => (l.startsWith('{"blockedFrom"') ? (JSON.parse(l) as { blockedFrom: number }).blockedFrom : undefined)).find((v) => v !== undefined)!;
    const pingsBefore = socket.with('WATCHDOG=1').filter((d) => d.t < from).length;
    await waitFor(() => (socket.with('WATCHDOG=1').filter((d) => d.t > until).length >= 4 ? true : undefined), 'four pings after the block', 30_000);

    const pings = socket.with('WATCHDOG=1').map((d) => d.t);
    expect(pingsBefore).toBeGreaterThanOrEqual(4);
    // A ping already spawned when the loop blocked may land just after; none is sent while it stays blocked.
    expect(pings.filter((t) => t > from + 1_000 && t < until)).toEqual([]);
    // The longest silence is the block: from the last ping before it to the first after it.
    const gaps = pings.slice(1).map((t, i) => ({ from: pings[i]!, to: t }));
    const longest = gaps.reduce((a, b) => (b.to - b.from > a.to - a.from ? b : a));
    expect(longest.to - longest.from).toBeGreaterThan(blockMs - 1_000);
    expect(longest.from).toBeLessThan(from + 1_000);
    expect(longest.to).toBeGreaterThanOrEqual(until);

    const exited = once(child, 'exit') as Promise<[number | null]>;
    child.kill('SIGTERM');
    await waitFor(() => socket.with('STOPPING=1')[0], 'STOPPING=1', 30_000);
    // Bounded: a child that does not exit says so (it waits at most for a systemd-notify in flight, 10 s).
    const [code] = await Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the child did not exit within 30 s of SIGTERM')), 30_000).unref())]);
    expect(code).toBe(0);
    // Bounded by its waits; each ping is a systemd-notify process, slow to start on a loaded machine.
  }, 200_000);

  it('`safegate run` says READY=1 once the kiosk is composed, pings while it runs and says STOPPING=1 on SIGTERM', async () => {
    const dir = tempDir('safegate-sd-notify-run-');
    cleanups.push(() => dir.remove());
    hubKeys(dir.path);
    const config = writeKioskConfig(dir.path, { scannerSource: 'none' });
    const socket = await FakeNotifySocket.open(join(dir.path, 'notify.sock'));
    cleanups.push(() => socket.close());
    const kiosk = safegateProcess(['run', '--config', config, '--headless'], undefined, { env: { NOTIFY_SOCKET: socket.address, WATCHDOG_USEC: '1000000' } });
    cleanups.push(() => stopChild(kiosk.child));

    const ready = await waitFor(() => socket.with('READY=1')[0], 'READY=1', 20_000);
    expect(ready.msg).toContain('STATUS=kiosk test-kiosk-01 running');
    expect(kiosk.logs.some((l) => l.msg === 'systemd watchdog pings started')).toBe(true);
    await waitFor(() => (socket.with('WATCHDOG=1').filter((d) => d.t > ready.t).length >= 2 ? true : undefined), 'watchdog pings after READY', 10_000);

    kiosk.child.kill('SIGTERM');
    const [code] = (await once(kiosk.child, 'exit')) as [number | null];
    expect(code).toBe(0);
    await waitFor(() => socket.with('STOPPING=1')[0], 'STOPPING=1');
    expect(socket.with('STOPPING=1')).toHaveLength(1);
    expect(socket.with('STOPPING=1')[0]!.t).toBeGreaterThan(ready.t);
  }, 90_000);
});
