import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SettingsError } from '../../../../src-main/core/config.js';
import { createMailer, smtpOptionsOf } from '../../../../sync/hub/notify/mailer.js';
import { loadHubSettings } from '../../../../sync/hub/settings.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { TestSmtpServer } from '../../../helpers/smtp-server.js';

/**
 * The hub settings' `alerts`: the SMTP URL and the console address are parsed, not pattern-matched
 * (no password in a URL, ports 1-65535, http(s) only), and an SMTP user means TLS unless the settings
 * opt in for a mail server on this machine.
 */
describe('alert settings', () => {
  const dir = tempDir('safegate-alert-settings-');
  const smtp = new TestSmtpServer(join(dir.path, 'mail'));
  writeFileSync(join(dir.path, 'smtp-password'), 'pw\n');
  const load = (alerts: object) => {
    const file = join(dir.path, 'hub.yaml');
    writeFileSync(file, stringify({ broker: { url: 'mqtts://127.0.0.1:8883' }, alerts }));
    return loadHubSettings(file);
  };
  const refusal = (alerts: object) => {
    try {
      load(alerts);
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsError);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };
  beforeAll(() => smtp.start());
  afterAll(async () => {
    await smtp.stop();
    dir.remove();
  });

  it('refuses a user or password in the SMTP URL (pointing to the password file, never repeating it), a bad port or scheme, and a console address that is not plain http(s)', () => {
    const withPassword = refusal({ smtp: { url: 'smtp://hub:s3cret-pw@mail.tinh.gov.vn:587' } });
    expect(withPassword).toMatch(/alerts\.smtp\.url: .*passwordFile/);
    expect(withPassword).not.toContain('s3cret-pw');
    expect(refusal({ smtp: { url: 'smtp://mail.tinh.gov.vn:0' } })).toMatch(/alerts\.smtp\.url: the port is 1 to 65535/);
    expect(refusal({ smtp: { url: 'smtp://mail.tinh.gov.vn:70000' } })).toMatch(/alerts\.smtp\.url: /);
    expect(refusal({ smtp: { url: 'http://mail.tinh.gov.vn' } })).toMatch(/alerts\.smtp\.url: .*not smtp: or smtps:/);
    expect(refusal({ smtp: { url: 'smtp://mail.tinh.gov.vn:25/x?y=1' } })).toMatch(/alerts\.smtp\.url: nothing after the host and port/);
    expect(refusal({ smtp: { port: 25 } })).toMatch(/url \(smtp:\/\/host:port\) or host/);
    expect(refusal({ consoleUrl: 'ftp://console.tinh.gov.vn' })).toMatch(/alerts\.consoleUrl: .*http\(s\)/);
    expect(refusal({ consoleUrl: 'https://admin:pw@console.tinh.gov.vn' })).toMatch(/alerts\.consoleUrl: no user or password/);
    expect(refusal({ consoleUrl: 'not a url' })).toMatch(/alerts\.consoleUrl: not a URL/);
    expect(refusal({ smtp: { url: 'smtp://mail.tinh.gov.vn:587', user: 'hub', insecureAuth: true } })).toMatch(/alerts\.smtp\.insecureAuth: .*not mail\.tinh\.gov\.vn/);
    expect(load({ smtp: { url: 'smtps://mail.tinh.gov.vn' }, consoleUrl: 'https://console.tinh.gov.vn/safegate' }).settings.alerts.consoleUrl).toBe('https://console.tinh.gov.vn/safegate');
  });

  it('an SMTP user requires TLS: a server without STARTTLS gets no password (the send fails); the loopback opt-in sends', async () => {
    const url = smtp.url;
    const strict = load({ smtp: { url, user: 'hub', passwordFile: 'smtp-password', timeoutSeconds: 5 } });
    const strictOptions = smtpOptionsOf(strict.settings, strict.smtpPasswordPath)!;
    expect(strictOptions).toMatchObject({ user: 'hub', password: 'pw', requireTls: true });
    const before = smtp.messages().length;
    const refusing = createMailer(strictOptions, 'SafeGate <safegate@tinh.gov.vn>');
    try {
      await expect(refusing.send({ to: 'a@b.vn', subject: 's', text: 't' })).rejects.toThrow(/TLS|SMTP 5\d\d/); // it insists on STARTTLS, which this server does not offer
    } finally {
      refusing.close();
    }
    expect(smtp.messages()).toHaveLength(before);
    // No user: nothing to protect, no TLS demanded.
    const anonymous = load({ smtp: { url } });
    expect(smtpOptionsOf(anonymous.settings, anonymous.smtpPasswordPath)).toMatchObject({ requireTls: false });
    const local = load({ smtp: { url, user: 'hub', passwordFile: 'smtp-password', insecureAuth: true, timeoutSeconds: 5 } });
    const sending = createMailer(smtpOptionsOf(local.settings, local.smtpPasswordPath), 'SafeGate <safegate@tinh.gov.vn>');
    try {
      await sending.send({ to: 'a@b.vn', subject: 's', text: 't' });
    } finally {
      sending.close();
    }
    expect(smtp.messages()).toHaveLength(before + 1);
  });
});
