import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { safegate, safegateProcess } from '../../helpers/cli.js';
import { passFor, waitFor } from '../../helpers/fixtures.js';
import { KioskProcessRig } from '../../helpers/kiosk-process.js';

/** `safegate run` as operators run it, with roster imports happening while it serves the gate. */
describe('safegate run alongside roster imports', () => {
  let rig: KioskProcessRig | undefined;
  afterEach(async () => {
    await rig?.dispose();
  });

  it('a bad CSV is refused by line without disturbing the kiosk; a large good one applies while scans go on', async () => {
    rig = await KioskProcessRig.create();
    const { pty, keys, config } = rig;
    const now = new Date().toISOString();
    const good = rig.rosterCsv('good.csv', Array.from({ length: 50_000 }, (_, i) => `W${i}`));
    const bad = join(rig.dir.path, 'bad.csv');
    writeFileSync(bad, `worker_id,display_name,declared_at,vaccine_doses\nW1,An,${now},2\nW2,Bình,not-a-date,2\n`);

    const decided: Record<string, unknown>[] = [];
    const { child } = await rig.startKiosk((e) => {
      if (e.msg === 'scan') decided.push(e);
    });

    const refused = safegate(['roster', 'import', bad, '--config', config]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^safegate: roster CSV refused, nothing imported: line 3: declared_at: /);
    await pty.write(`${passFor(keys, 'W1')}\r`);
    await waitFor(() => (decided.length === 1 ? true : undefined), 'first scan');
    expect(decided[0]).toMatchObject({ outcome: 'deny', reasons: ['UNKNOWN_WORKER'] });

    // Scans keep arriving, one every 20 ms, for as long as a 50,000-worker import runs (it holds the
    // write lock for part of that time).
    let importExit: number | null | undefined;
    const importer = safegateProcess(['roster', 'import', good, '--config', config]);
    importer.child.on('exit', (code) => (importExit = code));
    let sent = 1;
    while (importExit === undefined) {
      await pty.write(`${passFor(keys, `W${100 + sent}`)}\r`);
      sent++;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(importExit).toBe(0);
    await waitFor(() => (decided.length === sent ? true : undefined), 'all scans decided', 15_000);
    expect(decided.filter((d) => (d.reasons as string[]).includes('STORE_UNAVAILABLE'))).toEqual([]);
    await pty.write(`${passFor(keys, 'W2')}\r`);
    await waitFor(() => (decided.length === sent + 1 ? true : undefined), 'scan after import');
    expect(decided[sent]).toMatchObject({ outcome: 'allow', seq: sent + 1 });
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
});
