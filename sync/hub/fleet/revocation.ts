import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { BrokerSettings } from '../../../base/common/broker-settings.js';
import { DEVICE_ID_PATTERN } from '../../../base/common/ids.js';
import { mqttOptions } from '../../mqtt-link.js';
import type { RevocationMark } from './revocation-marks.js';

/**
 * Revoking a device (a stolen kiosk), in three steps (design "Revocation"; config/mosquitto/):
 * 1. at once, at the broker: Mosquitto's dynamic-security plugin, loaded beside the ACL file as a deny
 *    list, gets a client named the device id with the role `safegate-revoked` (no publishing,
 *    subscribing or receiving on any topic) and disables it, which disconnects the device. Devices
 *    sign in with their certificates, never a password, so it may reconnect, but can do nothing.
 * 2. the device's certificate goes on the CRL the hub CA writes; Mosquitto reads it when it starts,
 *    so from the next broker start the device's TLS connection is refused.
 * 3. the directory marks it revoked: hub processes refuse (drop, count, log once) whatever still
 *    arrives from it, and re-send step 1 to the broker themselves (a broker that was unreachable when
 *    the operator revoked, or whose plugin file was lost, learns it from the next hub process).
 */

/** Where the plugin takes commands, and where it answers (to every subscriber: match by correlation). */
export const DYNSEC_TOPIC = '$CONTROL/dynamic-security/v1';
export const DYNSEC_RESPONSE_TOPIC = '$CONTROL/dynamic-security/v1/response';
/** The role config/mosquitto/dynamic-security.json ships: denies everything on `#`. */
export const REVOKED_ROLE = 'safegate-revoked';

export type DynsecCommand = Record<string, unknown> & { command: string; correlationData: string };

/** The plugin's answer: `{ responses: [{ command, error?, correlationData? }] }` (extra fields on get* commands). */
const dynsecResponseSchema = z.object({
  responses: z.array(z.object({ command: z.string(), error: z.string().optional(), correlationData: z.string().optional() }).loose()),
});
export type DynsecResponse = z.infer<typeof dynsecResponseSchema>['responses'][number];

/** A payload on the response topic, or undefined when it is not the plugin's answer. */
export function parseDynsecResponse(payload: Uint8Array): DynsecResponse[] | undefined {
  try {
    const r = dynsecResponseSchema.safeParse(JSON.parse(Buffer.from(payload).toString('utf8')));
    return r.success ? r.data.responses : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The commands that cut these devices off, idempotent: creating a client that exists already is
 * answered "Client already exists" (only the hub makes dynsec clients, always with the role), and
 * disabling one twice is fine. The password is random and thrown away: devices never use passwords
 * (the listener takes the certificate's name as the username), it is there so the client cannot sign
 * in by password on any listener that allows passwords.
 */
export function cutOffCommands(deviceIds: readonly string[], correlation: string): DynsecCommand[] {
  return deviceIds.flatMap((id, i) => [
    {
      command: 'createClient',
      username: id,
      password: randomBytes(24).toString('base64url'),
      textname: 'revoked SafeGate device',
      roles: [{ rolename: REVOKED_ROLE, priority: 1 }],
      correlationData: `${correlation}/${i}/create`,
    },
    { command: 'disableClient', username: id, correlationData: `${correlation}/${i}/disable` },
  ]);
}

/** The answers that mean "done" for a cut-off command; anything else is a failure said in words. */
function cutOffProblem(r: DynsecResponse): string | undefined {
  if (!r.error) return undefined;
  if (r.command === 'createClient' && r.error === 'Client already exists') return undefined;
  if (r.error === 'Role not found') return `the broker's dynamic-security configuration has no role ${REVOKED_ROLE} (start it from config/mosquitto/dynamic-security.json)`;
  return `${r.command}: ${r.error}`;
}

/** A way to the plugin: publish a command, hear its answers. */
export interface DynsecChannel {
  /** Resolves once the broker has taken the command (QoS 1); rejects when it refuses it (ACL) or is unreachable. */
  publish(topic: string, payload: string): Promise<void>;
  /** Every answer on the response topic from now on, until the returned function is called. */
  onResponse(listener: (responses: DynsecResponse[]) => void): () => void;
}

/** `detail`: how it was done, when it matters to the operator (e.g. confirmed by a running hub process). */
export type CutOffResult = { ok: true; detail?: string } | { ok: false; reason: string };

/**
 * Sends the cut-off for these devices and waits for the plugin's answer to every command. No answer
 * within `timeoutMs` means the plugin is not loaded (the broker takes `$CONTROL` publishes and drops
 * them when no plugin listens) or the answer was lost: a failure, said so.
 */
export async function cutOffAtBroker(channel: DynsecChannel, deviceIds: readonly string[], timeoutMs = 5_000): Promise<CutOffResult> {
  if (deviceIds.length === 0) return { ok: true };
  const correlation = randomBytes(9).toString('base64url');
  const commands = cutOffCommands(deviceIds, correlation);
  const waiting = new Set(commands.map((c) => c.correlationData));
  const problems: string[] = [];
  let stopListening = (): void => {};
  const answered = new Promise<void>((resolve) => {
    stopListening = channel.onResponse((responses) => {
      for (const r of responses) {
        if (!r.correlationData || !waiting.delete(r.correlationData)) continue;
        const problem = cutOffProblem(r);
        if (problem) problems.push(problem);
      }
      if (waiting.size === 0) resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    try {
      await channel.publish(DYNSEC_TOPIC, JSON.stringify({ commands }));
    } catch (err) {
      return { ok: false, reason: `the broker did not take the command (${(err as Error).message})` };
    }
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    if ((await Promise.race([answered, timedOut])) === 'timeout') {
      return { ok: false, reason: `no answer from the broker's dynamic-security plugin within ${Math.round(timeoutMs / 1000)} s (is it loaded? see config/mosquitto/safegate.conf)` };
    }
  } finally {
    clearTimeout(timer);
    stopListening();
  }
  return problems.length ? { ok: false, reason: [...new Set(problems)].join('; ') } : { ok: true };
}

/**
 * A short MQTT connection to the plugin for an operator command, as the hub's own identity (its
 * certificate; the ACL lets hub processes use `$CONTROL/dynamic-security/#`). The broker forces the
 * client id to the certificate's name, so a hub process running with the same identity is
 * disconnected for as long as this lasts (it reconnects by itself; kiosks resend what it had not
 * acknowledged), which is why this connection does only the cut-off and closes.
 */
export async function cutOffOverMqtt(broker: BrokerSettings, clientId: string, deviceIds: readonly string[], timeoutMs = 5_000): Promise<CutOffResult> {
  const { default: mqtt } = await import('mqtt');
  let client: import('mqtt').MqttClient;
  try {
    client = await mqtt.connectAsync(broker.url, { ...mqttOptions(broker, clientId), connectTimeout: timeoutMs });
  } catch (err) {
    return { ok: false, reason: `broker ${broker.url} unreachable (${(err as Error).message})` };
  }
  client.on('error', () => {});
  try {
    const granted = await client.subscribeAsync(DYNSEC_RESPONSE_TOPIC, { qos: 1 });
    if (granted.some((g) => g.qos > 2)) return { ok: false, reason: `the broker refused ${clientId} the plugin's answers (its ACL: ${DYNSEC_RESPONSE_TOPIC})` };
    const channel: DynsecChannel = {
      publish: async (topic, payload) => {
        const packet = await client.publishAsync(topic, payload, { qos: 1 });
        const code = (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
        if (code >= 0x80) throw new Error(`refused with reason code 0x${code.toString(16)} (the broker's ACL)`);
      },
      onResponse: (listener) => {
        const onMessage = (topic: string, payload: Buffer): void => {
          if (topic !== DYNSEC_RESPONSE_TOPIC) return;
          const responses = parseDynsecResponse(payload);
          if (responses) listener(responses);
        };
        client.on('message', onMessage);
        return () => client.off('message', onMessage);
      },
    };
    return await cutOffAtBroker(channel, deviceIds, timeoutMs);
  } catch (err) {
    return { ok: false, reason: `broker connection failed (${(err as Error).message})` };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

/**
 * The revoked devices as hub processes see them: a copy of the directory's marks, refreshed every
 * `refreshMs`, so refusing a message costs a set lookup, not a database round trip. Messages from a
 * revoked device are dropped, counted and logged once per device. A device seen revoked for the first
 * time is cut off at the broker through `enforce` (the hub process's own link) until that succeeds.
 * The constructor only stores its dependencies.
 */
export class RevokedDevices {
  private revoked = new Set<string>();
  /** Revoked devices this process has had cut off at the broker (the plugin answered). */
  private readonly cutOff = new Set<string>();
  private readonly refusedCounts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /** The link-up time the cut-offs in `cutOff` were sent under. */
  private linkUpSeen: number | undefined;
  /** A refresh asked for while one was loading: runs once that one is done (a read started after the ask). */
  private again: Promise<void> | undefined;

  constructor(
    private readonly options: {
      /**
       * Every revoked device (the directory's marks): its id, or its mark with whether a hub process
       * confirmed its cut-off (a mark with `cutOffAtMs: null` is cut off again, even if this process did
       * before: it was revoked again, or nobody confirmed it yet).
       */
      listRevoked: () => Promise<readonly (string | RevocationMark)[]>;
      /** Cut these devices off at the broker; undefined: this process has no broker link. */
      enforce?: (deviceIds: readonly string[]) => Promise<CutOffResult>;
      /** Records that this process cut these devices off (what `hub devices revoke` waits for). */
      confirmCutOff?: (marks: readonly RevocationMark[]) => Promise<void>;
      /**
       * Since when this process's broker link is up (undefined: down). Each time it comes up again
       * every revoked device is cut off again: the broker may be another one now, or its plugin file
       * restored from before the revocation (the commands are idempotent and cheap).
       */
      linkUpSinceMs?: () => number | undefined;
      refreshMs: number;
      log: Logger;
    },
  ) {}

  /** Loads the marks once, then keeps them fresh until `stop()`. */
  async start(): Promise<void> {
    await this.refresh();
    const tick = (): void => {
      this.timer = setTimeout(() => void this.refresh().finally(() => this.timer && tick()), this.options.refreshMs);
      this.timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.refreshing;
    // What was dropped, for the record (each device was logged once, at its first message).
    if (this.refusedCounts.size) this.options.log.info({ dropped: Object.fromEntries(this.refusedCounts) }, 'messages dropped from revoked devices');
  }

  has(deviceId: string): boolean {
    return this.revoked.has(deviceId);
  }

  /** Drops a message from a revoked device: counted, and logged the first time for each device. */
  refuse(deviceId: string, what: string): void {
    const n = (this.refusedCounts.get(deviceId) ?? 0) + 1;
    this.refusedCounts.set(deviceId, n);
    if (n === 1) this.options.log.warn({ deviceId, what }, 'message from a revoked device dropped (further ones are counted, not logged)');
  }

  /** Messages dropped per revoked device since this process started. */
  refused(): ReadonlyMap<string, number> {
    return this.refusedCounts;
  }

  /**
   * Reads the marks now (a failed read keeps the last ones) and cuts newly revoked devices off. The
   * read always starts after the call: asked while a read is under way, it runs again once that one
   * is done (that read may have missed a mark made just before the call).
   */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.load().finally(() => (this.refreshing = undefined));
      return this.refreshing;
    }
    this.again ??= this.refreshing.then(() => {
      this.again = undefined;
      return this.refresh();
    });
    return this.again;
  }

  /** The broker forgot nothing we know of, but may have (a new broker, a restored plugin file): cut everyone off again at the next refresh. */
  forgetCutOffs(): void {
    this.cutOff.clear();
  }

  private async load(): Promise<void> {
    const up = this.options.linkUpSinceMs?.();
    if (up !== undefined && up !== this.linkUpSeen) {
      this.linkUpSeen = up;
      this.cutOff.clear();
    }
    let marks: RevocationMark[];
    try {
      marks = (await this.options.listRevoked())
        .map((m) => (typeof m === 'string' ? { deviceId: m, revokedAtMs: 0, cutOffAtMs: undefined } : m))
        .filter((m) => DEVICE_ID_PATTERN.test(m.deviceId)) as RevocationMark[];
      this.revoked = new Set(marks.map((m) => m.deviceId));
    } catch (err) {
      this.options.log.error({ err: (err as Error).message }, 'revoked devices not read; the last list stays in force');
      return;
    }
    const due = marks.filter((m) => !this.cutOff.has(m.deviceId) || m.cutOffAtMs === null);
    const pending = due.map((m) => m.deviceId);
    if (!pending.length || !this.options.enforce) return;
    const r = await this.options.enforce(pending);
    if (r.ok) {
      for (const id of pending) this.cutOff.add(id);
      this.options.log.info({ devices: pending.length }, 'revoked devices cut off at the broker');
      const unconfirmed = due.filter((m) => m.cutOffAtMs === null);
      if (unconfirmed.length && this.options.confirmCutOff) {
        await this.options.confirmCutOff(unconfirmed).catch((err: unknown) => this.options.log.warn({ err: (err as Error).message }, 'broker cut-off not recorded in the directory; recorded at the next refresh'));
      }
    } else {
      this.options.log.warn({ devices: pending.length, reason: r.reason }, 'revoked devices not cut off at the broker yet; trying again');
    }
  }
}

/** What one step of a revocation did, for the operator. */
export interface RevocationStep {
  step: 'broker' | 'crl' | 'directory';
  ok: boolean;
  detail: string;
}

export interface RevocationReport {
  deviceId: string;
  steps: RevocationStep[];
}

/**
 * What `revokeDevice` works with: the directory's marks and the CA's revocation list (H1's book and
 * pki), and the way to the broker's plugin.
 */
export interface RevocationDeps {
  /**
   * Marks the device revoked in the directory; the serials of its certificates (`enrolled: false`: a
   * device the hub knows but never issued a certificate, e.g. provisioned by hand), or 'unknown'.
   */
  markRevoked: (deviceId: string, atMs: number) => Promise<{ serials: readonly string[]; enrolled?: boolean } | 'unknown'>;
  /** Writes the CA's revocation list with every revoked serial; resolves to its path. */
  writeCrl: () => Promise<string>;
  cutOff: (deviceIds: readonly string[]) => Promise<CutOffResult>;
  now?: () => number;
}

export class UnknownDeviceError extends Error {
  override name = 'UnknownDeviceError';
}

/**
 * Revokes one device. The directory mark comes first (it makes every hub process refuse the device
 * and re-send the broker cut-off, and the enrolment server refuse its renewal), then the CRL (not for
 * a device the hub never issued a certificate: said so), then the broker cut-off; a failed cut-off or
 * CRL is reported, not thrown, so the others still happen. Throws UnknownDeviceError for an id the
 * hub does not know (`markRevoked` says 'unknown'), before doing anything.
 */
export async function revokeDevice(deviceId: string, deps: RevocationDeps): Promise<RevocationReport> {
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new UnknownDeviceError(`${JSON.stringify(deviceId)} is not a device id`);
  const marked = await deps.markRevoked(deviceId, (deps.now ?? Date.now)());
  if (marked === 'unknown') throw new UnknownDeviceError(`device ${deviceId} is not known at this hub (never enrolled, placed or heard from)`);
  // The CRL before the broker step: the command's cut-off may wait for a running hub process to confirm.
  let crl: RevocationStep;
  if (marked.enrolled === false) {
    // Provisioned by hand: its certificate is not this hub's to list (the deny and the refusal still apply).
    crl = { step: 'crl', ok: false, detail: "certificate NOT on the CRL: this hub did not issue it (the device was provisioned by hand); revoke it with the CA that did" };
  } else {
    try {
      const path = await deps.writeCrl();
      crl = { step: 'crl', ok: true, detail: `CRL written at ${path} with ${marked.serials.length} certificate(s) of the device (takes effect when the broker re-reads it: systemctl reload mosquitto)` };
    } catch (err) {
      crl = { step: 'crl', ok: false, detail: `CRL NOT written: ${(err as Error).message}` };
    }
  }
  const cut = await deps.cutOff([deviceId]);
  const steps: RevocationStep[] = [
    cut.ok
      ? { step: 'broker', ok: true, detail: `immediate cut-off done${cut.detail ? ` (${cut.detail})` : ''}: the broker disconnected the device and denies it every topic` }
      : { step: 'broker', ok: false, detail: `immediate cut-off NOT done: ${cut.reason}; hub processes retry it at the broker` },
    crl,
  ];
  steps.push({ step: 'directory', ok: true, detail: 'marked revoked: hub processes refuse its messages, the enrolment server its renewal' });
  return { deviceId, steps };
}
