import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errorText, fail, pass, warn, type CheckOutcome } from './check.js';

export const CERT_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

/** The device certificate (hub.broker.cert): present, this device's, days to expiry (warn under 30, fail expired). */
export function certificateCheck(input: { certFile: string | undefined; syncs: boolean; deviceId: string; nowMs: number; handProvisioned?: boolean }): CheckOutcome {
  if (!input.syncs) return pass('no hub in the settings (standalone): no device certificate needed');
  if (!input.certFile) {
    // Enrolment always gives a certificate; a file that names its own broker without one is the site's choice.
    const detail = 'the broker settings name no client certificate (hub.broker.cert)';
    return input.handProvisioned
      ? warn(`${detail}: the broker must let this kiosk in some other way`, 'set hub.broker.cert and hub.broker.key, or enrol the kiosk (`safegate enrol`)')
      : fail(`${detail}: the broker refuses the kiosk`, 'enrol the kiosk (`safegate enrol`), or set hub.broker.cert and hub.broker.key');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(input.certFile));
  } catch (err) {
    return fail(`${input.certFile}: missing or not a certificate (${errorText(err)})`, 'enrol the kiosk again (`safegate enrol --force`), or put the device certificate there');
  }
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  if (cn !== input.deviceId) return fail(`${input.certFile}: issued to ${cn ?? '(no CN)'}, not to this device (${input.deviceId})`, 'enrol the kiosk again, or set device.id to the certificate\'s name');
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  const until = new Date(notAfter).toISOString().slice(0, 10);
  const days = Math.floor(((notAfter - input.nowMs) / DAY_MS) * 10) / 10;
  if (notAfter <= input.nowMs) return fail(`${input.certFile}: expired on ${until}: the broker refuses the kiosk`, 'enrol the kiosk again (`safegate enrol --force` with a new code from the hub)');
  if (notBefore > input.nowMs) return fail(`${input.certFile}: not valid before ${new Date(notBefore).toISOString()} (is the clock right?)`, 'check the clock (`timedatectl`)');
  if (days < CERT_WARN_DAYS) return warn(`${input.certFile}: expires in ${days} days (${until})`, 'the kiosk renews it by itself while it reaches the hub; if it does not, enrol it again');
  return pass(`${input.certFile}: ${days} days left (until ${until})`);
}
