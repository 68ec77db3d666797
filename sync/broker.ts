import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { BrokerSettings } from '../base/common/broker-settings.js';

/** Connection options for mqtt.js; reconnecting is the caller's job (with backoff and fault classes). */
export function mqttOptions(b: BrokerSettings, clientId: string): mqtt.IClientOptions {
  const read = (f: string | undefined) => (f ? readFileSync(f) : undefined);
  return {
    clientId,
    protocolVersion: b.protocolVersion,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    keepalive: 30,
    ca: read(b.ca),
    cert: read(b.cert),
    key: read(b.key),
    rejectUnauthorized: true,
    ...(b.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
  };
}

/**
 * Acknowledgements are small packets: with Nagle's algorithm on (Node's default for sockets) and the
 * peer's delayed ACKs, every batch round trip gains ~40-80 ms. Call on 'connect'.
 */
export function disableNagle(client: mqtt.MqttClient): void {
  (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
}

export type LinkFault = 'auth' | 'network';

/**
 * Tells a refused identity (wrong or revoked certificate, not authorised) apart from a network
 * problem: the first needs a person, the second only patience.
 */
export function classifyLinkError(err: unknown): LinkFault {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = e?.code;
  // CONNACK: MQTT 3.1.1 return codes 4/5, MQTT 5 reason codes 0x86, 0x87, 0x8a (banned), 0x8c.
  if (typeof code === 'number' && [4, 5, 0x86, 0x87, 0x8a, 0x8c].includes(code)) return 'auth';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (/not authori[sz]ed|bad user ?name or password|certificate|alert (bad|unknown|handshake)|ERR_SSL|self[- ]signed/i.test(`${String(code)} ${message}`)) {
    return 'auth';
  }
  return 'network';
}
