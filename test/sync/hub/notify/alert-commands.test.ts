import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { AlertBook } from '../../../../sync/hub/notify/alert-book.js';
import { hubDirectoryAt, SAFEGATE_BIN, safegate } from '../../../helpers/cli.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { readableMail, TestSmtpServer } from '../../../helpers/smtp-server.js';
import { TestWebhookReceiver } from '../../../helpers/webhook-receiver.js';

/** `safegate hub alerts ...` as an operator runs it (the compiled command, `npx tsc -b` first). */
describe.each(directoryBackends)('safegate hub alerts on $name', (backend) => {
  const dir = tempDir('safegate-alert-cli-');
  const smtp = new TestSmtpServer(join(dir.path, 'mail'));
  const hooks = new TestWebhookReceiver();
  let config: string;
  let env: NodeJS.ProcessEnv;
  let directory: HubDirectory;
  const run = (...args: string[]) => safegate(['hub', 'alerts', ...args, '--config', config], { env });
  const runAsync = (...args: string[]) => promisify(execFile)(SAFEGATE_BIN, ['hub', 'alerts', ...args, '--config', config], { env: { ...process.env, ...env }, timeout: 20_000 });

  beforeAll(async () => {
    await smtp.start();
    await hooks.start();
    const target = await backend.target();
    const at = hubDirectoryAt(target);
    env = at.env;
    directory = await HubDirectory.open(target);
    await directory.addOrganisation({ id: 'may-a', name: 'May A', kind: 'company' });
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.addOrganisation({ id: 'may-b', name: 'May B', kind: 'company' });
    await directory.addSite({ id: 'xuong-b', orgId: 'may-b' });
    config = join(dir.path, 'hub.yaml');
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path }, console: { enabled: false }, alerts: { smtp: { url: smtp.url, timeoutSeconds: 3 }, consoleUrl: 'https://console.tinh.gov.vn' } }));
  }, 30_000);
  afterAll(async () => {
    await directory.close();
    await smtp.stop();
    await hooks.stop();
    dir.remove();
  });

  it('adds, lists and removes recipients; a webhook secret is printed once; bad input is refused with exit 2 and a reason', async () => {
    const mail = run('recipients', 'add', '--org', 'may-a', '--email', 'quanly@may-a.vn', '--json');
    expect(mail.stderr).toBe('');
    expect(mail.status).toBe(0);
    const mailId = (JSON.parse(mail.stdout) as { recipientId: string }).recipientId;
    const hook = run('recipients', 'add', '--province', '--webhook', hooks.url, '--category', 'health,gate');
    expect(hook.status).toBe(0);
    const secret = /webhook secret .*: (\S+)$/m.exec(hook.stdout)![1]!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const secretFile = join(dir.path, 'secret.txt');
    writeFileSync(secretFile, 'a-shared-secret-of-the-gateway\n');
    const given = run('recipients', 'add', '--org', 'may-a', '--site', 'xuong-1', '--webhook', 'https://zalo.example/hook', '--secret-file', secretFile);
    expect(given.status).toBe(0);
    expect(given.stdout).not.toMatch(/secret/);

    const listed = JSON.parse(run('recipients', 'list', '--json').stdout) as Record<string, unknown>[];
    expect(listed).toHaveLength(3);
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect(JSON.stringify(listed)).not.toContain('a-shared-secret');
    expect(listed.find((r) => r.channel === 'webhook' && r.orgId === null)).toMatchObject({ categories: ['health', 'gate'] });
    expect(run('recipients', 'list', '--org', 'may-b').stdout.trim()).toBe('no recipients (safegate hub alerts recipients add)');

    for (const [args, reason] of [
      [['recipients', 'add', '--org', 'nope', '--email', 'a@b.vn'], /no organisation nope/],
      [['recipients', 'add', '--org', 'may-a', '--site', 'xuong-b', '--email', 'a@b.vn'], /belongs to may-b/],
      [['recipients', 'add', '--email', 'a@b.vn'], /--org <id> or --province/],
      [['recipients', 'add', '--org', 'may-a', '--email', 'not-an-address'], /not an e-mail address/],
      [['recipients', 'add', '--org', 'may-a', '--email', 'a@b.vn', '--category', 'weather'], /unknown alert category weather/],
      [['recipients', 'remove', 'r-00000000'], /no recipient r-00000000/],
      [['list', '--limit', 'many'], /--limit/],
    ] as const) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(reason);
    }

    // Updated in place: same id, same channel; bad input refused.
    const updated = run('recipients', 'update', mailId, '--email', 'giamdoc@may-a.vn', '--category', 'health', '--json');
    expect(updated.stderr).toBe('');
    expect(JSON.parse(updated.stdout)).toMatchObject({ recipientId: mailId, channel: 'email', address: 'giamdoc@may-a.vn', categories: ['health'] });
    expect(run('recipients', 'update', mailId, '--all-categories').stdout).toMatch(/giamdoc@may-a\.vn \(all categories\); its deliveries are kept/);
    for (const [args, reason] of [
      [['recipients', 'update', mailId, '--webhook', 'https://x.example/h'], /is an e-mail recipient/],
      [['recipients', 'update', mailId, '--email', 'not-an-address'], /not an e-mail address/],
      [['recipients', 'update', mailId], /nothing to change/],
      [['recipients', 'update', mailId, '--category', 'weather'], /unknown alert category weather/],
      [['recipients', 'update', 'r-00000000', '--email', 'a@b.vn'], /no recipient r-00000000/],
    ] as const) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(reason);
    }

    const removed = run('recipients', 'remove', mailId);
    expect(removed.status).toBe(0);
    expect(JSON.parse(run('recipients', 'list', '--json').stdout)).toHaveLength(2);
  }, 120_000);

  it('lists alerts with their delivery states, and sends a test message that the SMTP server and the webhook receiver accept', async () => {
    const book = new AlertBook({ sql: directory.sql });
    const mail = await book.addRecipient({ orgId: 'may-b', siteId: null, channel: 'email', address: 'b@may-b.vn' });
    const hook = await book.addRecipient({ orgId: 'may-b', siteId: null, channel: 'webhook', address: hooks.url });
    hooks.secrets.add(hook.secret!);
    const { alertId } = await book.raise({ dedupKey: 'kiosk:k1:1', source: 'kiosk', kind: 'flagged-entry-attempt', category: 'health', orgId: 'may-b', siteId: 'xuong-b', checkpointId: 'c1', deviceId: 'k1', seq: 1, atMs: Date.now(), });

    const json = JSON.parse(run('list', '--org', 'may-b', '--json').stdout) as { alertId: string; deliveries: { recipientId: string; state: string }[] }[];
    expect(json.map((a) => a.alertId)).toEqual([alertId]);
    // Theirs (and, after the test before, its province-wide webhook for health and gate alerts).
    expect(json[0]!.deliveries.map((d) => [d.recipientId, d.state])).toEqual(expect.arrayContaining([[mail.recipientId, 'pending'], [hook.recipientId, 'pending']]));
    const text = run('list');
    expect(text.stdout).toContain(alertId);
    expect(text.stdout).not.toContain('flagged');

    const sentMail = run('test', '--recipient', mail.recipientId);
    expect(sentMail.stderr).toBe('');
    expect(sentMail.stdout).toMatch(/test message accepted/);
    expect(readableMail(smtp.messages().at(-1)!.raw)).toContain('This is a SafeGate test message.');
    // Not spawnSync: the receiver answers from this process, whose event loop must keep running.
    const sentHook = await runAsync('test', '--recipient', hook.recipientId);
    expect(sentHook.stderr).toBe('');
    expect(sentHook.stdout).toMatch(/test message accepted/);
    expect(hooks.requests.at(-1)).toMatchObject({ signatureValid: true, status: 200, json: { test: true } });

    await smtp.stop();
    const down = run('test', '--recipient', mail.recipientId);
    expect(down.status).toBe(1);
    expect(down.stderr, down.stderr).toMatch(/was not accepted: .*ECONNREFUSED/);
    await smtp.start();
  }, 60_000);
});
