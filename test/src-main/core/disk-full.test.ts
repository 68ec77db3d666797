import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { safegate } from '../../helpers/cli.js';
import { passFor, tempDir, waitFor } from '../../helpers/fixtures.js';
import { KioskProcessRig, type RunningKiosk } from '../../helpers/kiosk-process.js';

const isRoot = process.getuid?.() === 0;

/** Writes zeros into a new file until the filesystem is full; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    // Fill the last partial block too.
    for (const size of [4096, 512, 1]) {
      try {
        for (;;) written += writeSync(fd, chunk.subarray(0, size));
      } catch {
        // Next smaller size.
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/**
 * A full disk, on a real small filesystem (a 12 MiB tmpfs the test mounts): the WAL does not fill it,
 * the reserve keeps scans going when it does fill, events that cannot be written are shown by
 * `safegate status`, kept in RAM as they are held (so a killed kiosk loses none) and when the kiosk
 * stops (which then exits non-zero), and written at the next start once there is room, none twice. Mounting needs root (CI runs as root).
 */
describe.skipIf(!isRoot)('a full disk (real tmpfs)', () => {
  let rig: KioskProcessRig | undefined;
  const mnt = tempDir('safegate-tmpfs-');
  const runtime = tempDir('safegate-runtime-');
  let mounted = false;
  afterEach(async () => {
    await rig?.dispose();
    if (mounted) execFileSync('umount', [mnt.path]);
    mnt.remove();
    runtime.remove();
  });

  it('keeps every scan through a full disk and a stop while it is full; nothing lost, nothing opened unrecorded', async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m,mode=0700', 'tmpfs', mnt.path]);
    mounted = true;
    process.env.SAFEGATE_RUNTIME_DIR = runtime.path;
    const store = join(mnt.path, 'kiosk', 'safegate.db');
    rig = await KioskProcessRig.create({ store: { path: store, reserveMB: 2, lowSpaceWarnMB: 4 } });
    const ids = Array.from({ length: 3_000 }, (_, i) => `W${String(i).padStart(5, '0')}`);
    expect(safegate(['roster', 'import', rig.rosterCsv('roster.csv', ids), '--config', rig.config]).status).toBe(0);
    let kiosk: RunningKiosk = await rig.startKiosk();
    const scans = () => kiosk.logs.filter((l) => l.msg === 'scan');
    let sent = 0;
    const scan = async () => {
      const before = scans().length;
      await rig!.pty.write(`${passFor(rig!.keys, ids[sent++ % ids.length]!)}\r`);
      await waitFor(() => (scans().length > before ? true : undefined), 'the scan decided').catch((err: unknown) => {
        throw new Error(`${(err as Error).message} (scan ${sent}); the kiosk's last words: ${JSON.stringify(kiosk.logs.slice(-6))}`);
      });
      return scans().at(-1)!;
    };
    await waitFor(() => (existsSync(`${store}.reserve`) ? true : undefined), 'the reserve made');
    expect(statSync(`${store}.reserve`).size).toBe(2 * 1024 * 1024);

    // 1. A long rush on a small disk: the WAL stays bounded and never fills it.
    for (let i = 0; i < 1_500; i++) expect((await scan()).outcome).toBe('allow');
    expect(statSync(`${store}-wal`).size).toBeLessThan(2 * 1024 * 1024);

    // 2. Something else fills the disk: the reserve is given up, scans go on, the alarm is raised.
    fill(join(mnt.path, 'filler-1'));
    // (SQLite first fills the WAL space it already has: the full disk shows once it needs more.)
    const released = () => kiosk.logs.some((l) => /disk full: the reserve was released/.test(String(l.msg)));
    let outcomes: string[] = [];
    for (let i = 0; i < 3_000 && !released(); i++) outcomes.push((await scan()).outcome as string);
    expect(released()).toBe(true);
    for (let i = 0; i < 20; i++) outcomes.push((await scan()).outcome as string);
    expect(outcomes.every((o) => o === 'allow')).toBe(true);
    expect(existsSync(`${store}.reserve`)).toBe(false);
    const allowedBeforeStoreFailed = 1_500 + outcomes.length;

    // 3. The reserve is used up too: the gate fails safe, the events wait in memory, status shows them.
    fill(join(mnt.path, 'filler-2'));
    outcomes = [];
    let storeFailed = 0;
    for (let i = 0; i < 5_000 && storeFailed < 25; i++) {
      const reasons = (await scan()).reasons as string[];
      outcomes.push(reasons.join());
      if (reasons.includes('STORE_UNAVAILABLE')) storeFailed++;
    }
    expect(storeFailed).toBe(25);
    // Until the reserve ran out the gate still opened; after that it stayed shut, every time.
    const firstFailure = outcomes.indexOf('STORE_UNAVAILABLE');
    expect(outcomes.slice(0, firstFailure).every((r) => r === '')).toBe(true);
    expect(outcomes.slice(firstFailure).every((r) => r === 'STORE_UNAVAILABLE')).toBe(true);
    const allowed = allowedBeforeStoreFailed + firstFailure;
    const held = await waitFor(() => {
      const s = JSON.parse(safegate(['status', '--config', rig!.config, '--json']).stdout) as { heldEvents: { inMemory: number }; disk: { level: string } };
      return s.heldEvents.inMemory >= 20 ? s : undefined;
    }, 'status shows the held events', 10_000);
    expect(held.disk.level).toBe('critical');

    // 4. The kiosk is killed (no chance to save anything) while the disk is still full: the held
    // events were kept in RAM as they were held; the next start takes them back, still cannot store
    // them, holds more, and a normal stop says so and does not exit 0.
    kiosk.child.kill('SIGKILL');
    await once(kiosk.child, 'exit');
    const afterKill = JSON.parse(safegate(['status', '--config', rig.config, '--json']).stdout) as { heldEvents: { keptForNextStart: number } };
    expect(afterKill.heldEvents.keptForNextStart).toBe(25);
    kiosk = await rig.startKiosk();
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'events held by the last run taken back' && l.events === 25) ? true : undefined), 'held events taken back after the kill');
    for (let i = 0; i < 5; i++) expect((await scan()).reasons).toEqual(['STORE_UNAVAILABLE']);
    kiosk.child.kill('SIGTERM');
    const [code] = (await once(kiosk.child, 'exit')) as [number | null];
    expect(code).toBe(75);
    const afterStop = JSON.parse(safegate(['status', '--config', rig.config, '--json']).stdout) as { heldEvents: { keptForNextStart: number } };
    expect(afterStop.heldEvents.keptForNextStart).toBe(30);

    // 5. Space comes back; the next start writes them, in order, with nothing lost.
    rmSync(join(mnt.path, 'filler-1'));
    rmSync(join(mnt.path, 'filler-2'));
    kiosk = await rig.startKiosk();
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'events held by the last run taken back' && l.events === 30) ? true : undefined), 'kept events taken back');
    await waitFor(() => (JSON.parse(safegate(['status', '--config', rig!.config, '--json']).stdout).heldEvents.inMemory === 0 ? true : undefined), 'held events stored', 20_000);
    await waitFor(() => (existsSync(`${store}.reserve`) ? true : undefined), 'the reserve made again', 40_000).catch(() => undefined);
    kiosk.child.kill('SIGTERM');
    expect((await once(kiosk.child, 'exit'))[0]).toBe(0);
    const db = new Database(store, { readonly: true });
    const events = db.prepare('SELECT seq, decision, reasons FROM events ORDER BY seq').all() as { seq: number; decision: string; reasons: string }[];
    db.close();
    expect(events).toHaveLength(sent);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    // Every open gate was recorded: the allowed scans are exactly those the kiosk decided as allowed.
    expect(events.filter((e) => e.decision === 'allow')).toHaveLength(allowed);
    expect(events.filter((e) => e.reasons === 'STORE_UNAVAILABLE').length).toBeGreaterThanOrEqual(20);
  }, 180_000);
});

