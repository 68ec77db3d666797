import Database from 'better-sqlite3';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { safegate } from '../../helpers/cli.js';
import { passFor, waitFor } from '../../helpers/fixtures.js';
import { KioskProcessRig } from '../../helpers/kiosk-process.js';

/**
 * The kiosk is killed with SIGKILL in the middle of a burst of scans, three times over. Every event
 * it reported as decided (it logs after the commit) must be in the database, and the sequence
 * numbers must run without a gap, across the crashes and the restarts.
 */
describe('crash safety', () => {
  let rig: KioskProcessRig | undefined;
  afterEach(async () => {
    await rig?.dispose();
  });

  it('SIGKILL mid-burst loses no committed event and leaves no gap in the sequence', async () => {
    rig = await KioskProcessRig.create();
    const { pty, keys, config } = rig;
    const workers = Array.from({ length: 600 }, (_, i) => `W${String(i).padStart(4, '0')}`);
    expect(safegate(['roster', 'import', rig.rosterCsv('roster.csv', workers), '--config', config]).status).toBe(0);

    const reported = new Set<number>();
    let next = 0;
    for (let round = 0; round < 3; round++) {
      const { child, logs } = await rig.startKiosk();
      const scansLogged = () => logs.filter((l) => l.msg === 'scan' && typeof l.seq === 'number').length;
      // A burst of 200 distinct scans; kill once about 60 have been decided.
      const burst = workers.slice(next, next + 200).map((w) => passFor(keys, w));
      next += 200;
      // A steady stream: at most 10 scans in flight, so the pty never fills up however slowly the
      // kiosk runs on a loaded machine.
      const writing = (async () => {
        for (let i = 0; i < burst.length; i++) {
          while (i - scansLogged() >= 10) {
            if (child.exitCode !== null || child.signalCode !== null) return;
            await new Promise((r) => setTimeout(r, 2));
          }
          if (child.exitCode !== null || child.signalCode !== null) return;
          await pty.write(`${burst[i]}\r`);
        }
      })();
      await waitFor(() => (scansLogged() >= 60 ? true : undefined), 'scans under way', 20_000);
      child.kill('SIGKILL');
      await once(child, 'exit');
      await writing.catch(() => {});
      for (const l of logs) if (l.msg === 'scan' && typeof l.seq === 'number') reported.add(l.seq);
      expect(scansLogged()).toBeLessThan(200);
    }

    const db = new Database(join(rig.dir.path, 'safegate.db'), { readonly: true });
    const seqs = (db.prepare('SELECT seq FROM events ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq);
    db.close();
    expect(seqs.length).toBeGreaterThanOrEqual(reported.size);
    for (const s of reported) expect(seqs).toContain(s);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));

    // After the last crash the kiosk starts again and carries on from the next number.
    const { child, logs } = await rig.startKiosk();
    await pty.write(`${passFor(keys, workers[599]!)}\r`);
    const scan = await waitFor(() => logs.find((l) => l.msg === 'scan'), 'a scan after restart');
    expect(scan.seq).toBe(seqs.length + 1);
    child.kill('SIGTERM');
    await once(child, 'exit');
    expect(child.exitCode).toBe(0);
  });
});
