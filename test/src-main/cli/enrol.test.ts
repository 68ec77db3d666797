import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SAFEGATE_BIN } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/fixtures.js';
import { LocalEnrolHub } from '../core/enrolment/est-local-hub.js';

/** The compiled command, asynchronously: the stand-in hub answers from this process meanwhile. */
function safegateAsync(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(SAFEGATE_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

describe('safegate enrol (compiled command)', () => {
  const root = tempDir('safegate-enrol-cli-');
  let hub: LocalEnrolHub;
  beforeAll(async () => {
    hub = await new LocalEnrolHub(join(root.path, 'hub')).start();
  });
  afterAll(async () => {
    await hub.stop();
    root.remove();
  });
  let n = 0;
  const kioskFile = () => {
    const d = join(root.path, `kiosk-${++n}`);
    mkdirSync(d, { recursive: true });
    const config = join(d, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    return config;
  };

  it('enrols from a code file as a scanner types it (CRLF), prints the device id; config check then lists the layers', async () => {
    const config = kioskFile();
    const codeFile = join(root.path, 'code.txt');
    writeFileSync(codeFile, `${hub.newCode('kiosk-c-0001')}\r\n`);
    const r = await safegateAsync(['enrol', '--config', config, '--token-file', codeFile]);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ status: 0, stdout: 'enrolled as kiosk-c-0001\n' });
    const check = await safegateAsync(['config', 'check', '--config', config]);
    expect(check).toMatchObject({ status: 0, stdout: `${config}: OK (layers: file < enrolment v1)\n` });
    // Enrolled already: refused in one line, exit 1, unless --force.
    const again = await safegateAsync(['enrol', '--config', config, '--token', hub.newCode('kiosk-c-0002')]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/^safegate: enrolment failed \(ALREADY_ENROLLED\): this kiosk is enrolled already: .*kiosk-c-0001.*\n$/);
  });

  it("each refusal reaches the operator in one line with exit 1 (a used code; a wrong CA fingerprint); --json says it as JSON", async () => {
    const config = kioskFile();
    const code = hub.newCode('kiosk-c-0003');
    expect(await safegateAsync(['enrol', '--config', config, '--token-file', '-', '--json'], `${code}\n`)).toMatchObject({ status: 0, stdout: '{"ok":true,"deviceId":"kiosk-c-0003"}\n' });
    const used = await safegateAsync(['enrol', '--config', kioskFile(), '--token', code]);
    expect(used.status).toBe(1);
    expect(used.stderr).toBe('safegate: enrolment failed (TOKEN_USED): this enrolment code has been used already; ask for a new one: refused: TOKEN_USED\n');
    const rogue = await safegateAsync(['enrol', '--config', kioskFile(), '--token', hub.newCode('kiosk-c-0004', { caFingerprint: '00'.repeat(32) }), '--json']);
    expect(rogue.status).toBe(1);
    expect(JSON.parse(rogue.stdout)).toMatchObject({ ok: false, reason: 'CA_MISMATCH' });
  });

  it('bad usage exits 2: neither or both of --token and --token-file', async () => {
    const config = kioskFile();
    const neither = await safegateAsync(['enrol', '--config', config]);
    expect(neither.status).toBe(2);
    expect(neither.stderr).toMatch(/^safegate: give the enrolment code with --token or --token-file \(one of them\)\n$/);
    expect((await safegateAsync(['enrol', '--config', config, '--token', 'x', '--token-file', '/nonexistent'])).status).toBe(2);
    const garbage = await safegateAsync(['enrol', '--config', config, '--token', 'hello']);
    expect(garbage.status).toBe(1);
    expect(garbage.stderr).toMatch(/^safegate: enrolment failed \(CODE_INVALID\): /);
  });
});
