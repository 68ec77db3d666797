import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { safegate, safegateProcess, type RunningProcess } from '../../helpers/cli.js';
import { postgresBackend } from '../../helpers/directory-db.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { KioskUnderTest } from '../../helpers/kiosk.js';
import { TestBroker, TestCertificates } from '../../helpers/mosquitto.js';

const DEVICE = 'test-kiosk-01';
const LIST_HEADER = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';
const ROSTER_HEADER = 'worker_id,display_name,company,team,declared_at,declaration_flagged,test_result,tested_at,vaccine_doses,quarantine_until,case_status';

/**
 * With DATABASE_URL set, everything an operator does at the hub lands in PostgreSQL, the directory
 * included: `hub org add`, `hub site add`, `hub checkpoint add`, `hub device assign`, an
 * organisation's list upload, the health side's roster import, `hub pass issue`, and `hub run`
 * (console off) on a real Mosquitto. No SQLite file of the hub's appears beside its settings, and a
 * real kiosk at the organisation's gate receives the uploaded workers (never their ID number, phone
 * or residence) and opens for a pass the command issued.
 */
describe('a hub on PostgreSQL, from the first command to the kiosk (real Mosquitto, real PostgreSQL)', () => {
  const dir = tempDir('safegate-hub-pg-');
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    dir.remove();
  });

  it('org, site, checkpoint, device, list upload, pass issue and hub run all use DATABASE_URL; the kiosk gets the roster and admits the pass', async () => {
    const target = await postgresBackend.target();
    if (target.kind !== 'postgres') throw new Error('expected a PostgreSQL target');
    const env = { DATABASE_URL: target.url };

    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    certs.issue(DEVICE);
    const broker = new TestBroker(dir.path, certs);
    await broker.start();
    cleanups.push(() => broker.stop());
    const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });

    // The kiosk trusts the keys the hub signs with: its downlink key and its pass key.
    const k = new KioskUnderTest();
    cleanups.push(() => k.stop());
    const hubDir = join(dir.path, 'hub');
    const signingKey = join(dir.path, 'downlink.key.pem');
    const passKey = join(dir.path, 'pass.key.pem');
    writeFileSync(signingKey, k.keys.downlink.privatePem, { mode: 0o600 });
    writeFileSync(passKey, k.keys.privatePem, { mode: 0o600 });
    const config = join(dir.path, 'hub.yaml');
    writeFileSync(
      config,
      stringify({
        id: 'hub.1',
        broker: { ...tls('hub.1'), protocolVersion: 5 },
        // Where the SQLite files would be without DATABASE_URL: none of them may appear.
        directory: { path: join(hubDir, 'hub-directory.db') },
        store: { path: join(hubDir, 'hub.db') },
        signingKey,
        passKey,
        console: { enabled: false, database: join(hubDir, 'hub-console.db') },
        siteStream: { beatMs: 500 },
        log: { level: 'info' },
      }),
    );
    const run = (...args: string[]) => {
      const r = safegate(['hub', ...args, '--config', config], { env });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return r.stdout;
    };

    expect(run('org', 'add', 'cty-a', '--name', 'Công ty May A')).toMatch(/^organisation cty-a added/);
    expect(run('site', 'add', 'xuong-1', '--org', 'cty-a', '--name', 'Xưởng 1')).toMatch(/^site xuong-1 added to cty-a/);
    expect(run('checkpoint', 'add', 'cong-1', '--site', 'xuong-1', '--kind', 'gate')).toMatch(/serving cty-a/);
    expect(run('device', 'assign', '--checkpoint', 'cong-1', DEVICE)).toMatch(/^1 device\(s\) placed at checkpoint cong-1/);
    const list = join(dir.path, 'cty-a.csv');
    writeFileSync(
      list,
      `${LIST_HEADER}\n1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,,,2\n2,A002,Lê Văn Hùng,1991,Nam,079191000002,0912345602,Bình Tân,Tổ May 1,,,1\n`,
    );
    expect(run('roster', 'upload', '--org', 'cty-a', list)).toMatch(/^cty-a: 2 worker\(s\) on the list, 2 added or changed, 0 removed/);
    // The health side's import gives A001 today's declaration (a pass alone does not open the gate).
    const health = join(dir.path, 'health.csv');
    writeFileSync(health, `${ROSTER_HEADER}\nA001,Trần Thị Mai,Công ty May A,Tổ May 1,${new Date(Date.now() - 3_600_000).toISOString()},no,,,2,,none\n`);
    expect(run('roster', 'import', health)).toMatch(/^roster revision \d+: 1 worker\(s\) added or changed/);
    const issued = run('pass', 'issue', '--org', 'cty-a', '--workers', 'A001', '--codes').trim().split('\n');
    expect(issued[0]).toMatch(/^1 pass\(es\) issued to cty-a's workers/);
    const [passId, worker, code] = issued[1]!.split('\t');
    expect(worker).toBe('A001');

    let hub: RunningProcess | undefined = safegateProcess(['hub', 'run', '--config', config], undefined, { env });
    cleanups.push(async () => {
      if (hub && hub.child.exitCode === null && hub.child.signalCode === null) {
        hub.child.kill('SIGKILL');
        await new Promise((r) => hub!.child.once('exit', r));
      }
    });
    await waitFor(() => (hub!.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 20_000);
    expect(hub.logs.find((l) => l.msg === 'hub directory open')).toMatchObject({ directory: 'postgresql' });
    expect(hub.logs.find((l) => l.msg === 'hub store open')).toMatchObject({ store: 'postgresql' });

    await k.start({ hub: { broker: tls(DEVICE) } });
    await waitFor(() => (k.kiosk.roster.get('A001') && k.kiosk.roster.get('A002') ? true : undefined), "the organisation's workers at the kiosk", 20_000);
    // What a decision needs, never the list's hub-only fields.
    const held = JSON.stringify([k.kiosk.roster.get('A001'), k.kiosk.roster.get('A002')]);
    for (const hubOnly of ['079190000001', '0912345601', 'KTX Tân Tạo', 'Bình Tân']) expect(held).not.toContain(hubOnly);
    const passage = await k.scan(code!);
    expect(passage.decision).toMatchObject({ outcome: 'allow' });

    // hub run stops cleanly (SIGTERM closes the directory last), and it never made a SQLite file.
    hub.child.kill('SIGTERM');
    const exit = await new Promise<number | null>((r) => hub!.child.once('exit', (c) => r(c)));
    hub = undefined;
    expect(exit).toBe(0);
    expect(existsSync(hubDir) ? readdirSync(hubDir) : []).toEqual([]);
    for (const defaultName of ['hub-directory.db', 'hub.db', 'hub-console.db']) expect(existsSync(join(dir.path, defaultName))).toBe(false);

    // And the rows are PostgreSQL's: the directory's schema holds the list, the registry, the pass.
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      const count = async (table: string) => Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM directory.${table}`)).rows[0]!.n);
      expect(await count('organisations')).toBe(1);
      expect(await count('hub_workers')).toBe(2);
      expect((await client.query<{ pass_id: string; worker_id: string }>('SELECT pass_id, worker_id FROM directory.passes')).rows).toEqual([{ pass_id: passId, worker_id: 'A001' }]);
    } finally {
      await client.end();
    }
  }, 90_000);
});
