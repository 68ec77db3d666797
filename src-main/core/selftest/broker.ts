import type { BrokerSettings } from '../../../base/common/broker-settings.js';
import type { HubLinkView } from '../../../base/common/hub-link.js';
import { fail, pass, warn, type CheckOutcome } from './check.js';

/**
 * Connects to the broker as this device (its certificate) and disconnects, within `timeoutMs`. The
 * core does not import sync/: the command passes the MQTT probe in.
 */
export type BrokerProbe = (broker: BrokerSettings, clientId: string, timeoutMs: number) => Promise<{ ok: true } | { ok: false; fault: 'auth' | 'network'; detail: string }>;

export interface BrokerCheckInput {
  broker: BrokerSettings | undefined;
  deviceId: string;
  /**
   * A kiosk running on these settings: its own link's word is reported instead, since a second
   * connection as this device (the client id is the certificate's name) would end the kiosk's.
   */
  running: { pid: number | 'this kiosk'; link: HubLinkView | null; refused?: boolean } | null;
  probe: BrokerProbe;
  timeoutMs: number;
}

const REFUSED_ACTION = 'the certificate is wrong, expired or revoked, or the hub does not know this device: enrol again (`safegate enrol --force`) or ask the hub\'s IT staff';

export async function brokerCheck(input: BrokerCheckInput): Promise<CheckOutcome> {
  const b = input.broker;
  if (!b) return pass('no hub in the settings (standalone): nothing to connect to');
  if (input.running) {
    const who = input.running.pid === 'this kiosk' ? 'this kiosk' : `the running kiosk (pid ${input.running.pid})`;
    if (input.running.link === 'online') return pass(`${b.url}: ${who} is connected`);
    if (input.running.refused) return fail(`${b.url}: the broker refuses ${who}'s certificate`, REFUSED_ACTION);
    if (input.running.link === null) {
      return warn(`${b.url}: the link of ${who} is not known here (not probed: a second connection as ${input.deviceId} would end the kiosk's)`, 'run the self-test as the kiosk\'s user with its runtime folder (`sudo -u safegate env SAFEGATE_RUNTIME_DIR=/run/safegate safegate selftest ...`), or stop the kiosk to probe the broker');
    }
    const why = input.running.pid === 'this kiosk' ? '' : ` (not probed: a second connection as ${input.deviceId} would end the kiosk's)`;
    return warn(`${b.url}: ${who}'s link is ${input.running.link}${why}`, 'wait a minute; if it stays so, look at the kiosk\'s log (sync:uplink) and the broker\'s');
  }
  const r = await input.probe(b, input.deviceId, input.timeoutMs);
  if (r.ok) return pass(`${b.url}: connected as ${input.deviceId} with this device's certificate`);
  if (r.fault === 'auth') {
    return fail(`${b.url}: the broker refused this device (${r.detail})`, REFUSED_ACTION);
  }
  return fail(`${b.url}: cannot reach the broker (${r.detail})`, 'check the network, the broker\'s address and port, and that the hub is up');
}
