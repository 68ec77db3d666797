import { createPublicKey, type KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import {
  EST_PATHS,
  MAX_CSR_BYTES,
  enrolmentResultSchema,
  type DeviceSettingsDocument,
  type EnrolmentRefusal,
  type EnrolmentResult,
} from '../../../base/common/enrolment.js';
import { DEVICE_ID_PATTERN } from '../../../base/common/ids.js';
import { signCoseSign1 } from '../../../base/node/cose.js';
import { keyIdOf } from '../../../base/node/keys.js';
import { X509Error, certificateSignedBy, readCertificate, readCsr, type CertificateInfo } from '../../../base/node/x509.js';
import type { HubDirectory } from '../directory.js';
import type { EnrolmentBook, EnrolmentSettings } from './enrolment-book.js';
import type { HubPki } from './pki.js';

/**
 * The hub's enrolment endpoint (EST, RFC 7030, as base/common/enrolment.ts describes it): HTTPS with
 * the hub CA's server certificate. `cacerts` gives the CA certificate to anyone (the kiosk checks
 * its fingerprint against the code); `simpleenroll` takes a CSR with a one-time token and answers
 * the device certificate, the hub's public keys and the device's signed settings; `simplereenroll`
 * takes a CSR for a new key with the device's current certificate as TLS client certificate, which
 * this server checks itself (signed by the CA, in its lifetime, its device enrolled and not revoked).
 *
 * Every refusal is `{ error: { code, message } }` with the contract's status. The token is never
 * logged; neither is anything else a request carries but the device id and the outcome.
 */

export interface EnrolServerOptions {
  pki: HubPki;
  book: EnrolmentBook;
  /** Where an enrolled device is placed (site, and checkpoint when the registry knows it). */
  directory: Pick<HubDirectory, 'assignSite' | 'placeDevices' | 'checkpoints'>;
  /** The hub's downlink private key: it signs the device settings document. Without it the server answers HUB_NOT_READY. */
  signingKey: KeyObject | undefined;
  /** Public keys (PEM) the enrolled kiosk installs as trust anchors, by role. */
  keys: { pass: string[]; downlink: string[]; 'phone-pass'?: string[] };
  brokerUrl: string;
  gpioProfiles: Record<string, Record<string, unknown>>;
  host: string;
  port: number;
  rateLimitPerMinute: number;
  log: Logger;
  now?: () => number;
  /** Connection limits (defaults: ENROL_SERVER_LIMITS); tests shorten them. */
  limits?: Partial<EnrolServerLimits>;
}

/**
 * What keeps a slow or idle client from holding the hub process's sockets (the endpoint is public and
 * unauthenticated, and runs inside `hub run`): a TLS handshake, a whole request, and an idle socket
 * each have a deadline of seconds, and the number of open connections is capped.
 */
export interface EnrolServerLimits {
  /** The TLS handshake must finish within this (a socket that sends nothing is dropped). */
  handshakeTimeoutMs: number;
  /** A socket with no traffic for this long is dropped. */
  idleTimeoutMs: number;
  /** Headers must arrive within this. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this (a dripping body is dropped). */
  requestTimeoutMs: number;
  /** A kept-alive socket with no next request is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often Node checks the header/request deadlines. */
  checkIntervalMs: number;
  /** Open connections at most; more are closed at once. */
  maxConnections: number;
}

/** How long after a token's use an enrolment retried with the same key gets the same certificate again. */
export const ENROL_RETRY_MS = 3_600_000;

export const ENROL_SERVER_LIMITS: EnrolServerLimits = {
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  maxConnections: 256,
};

const STATUS: Record<EnrolmentRefusal, number> = {
  TOKEN_MISSING: 401,
  TOKEN_UNKNOWN: 401,
  TOKEN_USED: 409,
  TOKEN_EXPIRED: 410,
  CSR_INVALID: 400,
  CSR_WRONG_DEVICE: 403,
  CERT_REQUIRED: 401,
  DEVICE_REVOKED: 403,
  RATE_LIMITED: 429,
  HUB_NOT_READY: 503,
};

class Refusal extends Error {
  constructor(
    readonly code: EnrolmentRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** The PEM public key of a private or public key. */
export function publicPemOf(key: KeyObject): string {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'pem' }) as string;
}

export class EnrolServer {
  private app: FastifyInstance | undefined;

  /** Only stores its dependencies. */
  constructor(private readonly o: EnrolServerOptions) {}

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** The port it listens on (after start). */
  get port(): number {
    const a = this.app?.server.address();
    return a && typeof a === 'object' ? a.port : this.o.port;
  }

  async start(): Promise<void> {
    const { certPem, keyPem } = this.o.pki.serverCredentials();
    const limits = { ...ENROL_SERVER_LIMITS, ...this.o.limits };
    const app = Fastify({
      https: {
        key: keyPem,
        cert: certPem,
        ca: this.o.pki.caPem(),
        requestCert: true,
        rejectUnauthorized: false,
        handshakeTimeout: limits.handshakeTimeoutMs,
        // Node's own deadlines for headers and the whole request, checked this often (its default is every 30 s).
        headersTimeout: limits.headersTimeoutMs,
        connectionsCheckingInterval: limits.checkIntervalMs,
      },
      connectionTimeout: limits.idleTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxRequestsPerSocket: 8,
      bodyLimit: MAX_CSR_BYTES,
      logger: false,
    });
    app.server.maxConnections = limits.maxConnections;
    app.server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
    this.app = app;
    await app.register(fastifyRateLimit, {
      global: true,
      max: this.o.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => req.ip,
      errorResponseBuilder: (_req, ctx) => Object.assign(new Error(`too many requests from this address; try again in ${Math.ceil(ctx.ttl / 1000)} s`), { statusCode: 429 }),
    });
    // A CSR is read as text whatever its declared type; the route refuses a wrong type itself (the contract's CSR_INVALID).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_CSR_BYTES }, (_req, body, done) => done(null, body));
    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
      if (err instanceof Refusal) return this.refuse(reply, err.code, err.message);
      if (err.statusCode === 429) return this.refuse(reply, 'RATE_LIMITED', err.message);
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return this.refuse(reply, 'CSR_INVALID', `the certificate request is larger than ${MAX_CSR_BYTES} bytes`);
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return this.refuse(reply, 'CSR_INVALID', 'the request could not be read');
      this.o.log.error({ err }, 'enrolment request failed');
      return this.refuse(reply, 'HUB_NOT_READY', 'the hub could not complete the request; try again later');
    });

    // The public CA certificate is out of the per-address limit: a site's kiosks behind one address enrol in the same minute.
    app.get(EST_PATHS.cacerts, { config: { rateLimit: false } }, async (_req, reply) => {
      reply.header('content-type', 'application/pem-certificate-chain').header('cache-control', 'no-store');
      return this.o.pki.caPem();
    });
    app.post(EST_PATHS.simpleenroll, (req, reply) => this.enrol(req, reply));
    app.post(EST_PATHS.simplereenroll, (req, reply) => this.reenrol(req, reply));

    await app.listen({ host: this.o.host, port: this.o.port });
    this.o.log.info({ host: this.o.host, port: this.port }, 'enrolment endpoint listening');
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }

  private refuse(reply: FastifyReply, code: EnrolmentRefusal, message: string): FastifyReply {
    return reply
      .code(STATUS[code])
      .header('cache-control', 'no-store')
      .type('application/json; charset=utf-8')
      .send({ error: { code, message: message.slice(0, 500) } });
  }

  /** POST simpleenroll: a token and a CSR whose CN is the token's device id. */
  private async enrol(req: FastifyRequest, reply: FastifyReply): Promise<EnrolmentResult> {
    const auth = req.headers.authorization;
    if (auth === undefined || auth.trim() === '') throw new Refusal('TOKEN_MISSING', 'no enrolment token (Authorization: Bearer <token>)');
    const m = /^Bearer ([^\s]+)$/i.exec(auth.trim());
    if (!m?.[1]) throw new Refusal('TOKEN_MISSING', 'the Authorization header is not "Bearer <token>"');
    const token = m[1];
    const nowMs = this.now();
    const looked = await this.o.book.lookup(token, nowMs);
    if (!looked.ok && looked.reason === 'TOKEN_USED') {
      const again = await this.retried(req, token, nowMs);
      if (again) {
        reply.header('cache-control', 'no-store');
        return again;
      }
    }
    if (!looked.ok) {
      if (looked.cancelled) this.o.log.warn({ deviceId: looked.deviceId, address: req.ip }, 'enrolment refused: the code of this device was cancelled');
      throw new Refusal(looked.reason, tokenMessage(looked.reason));
    }
    const { deviceId, settings } = looked.entry;
    const csr = await this.readCsrBody(req);
    if (csr.commonName !== deviceId) {
      this.o.log.warn({ deviceId, named: csr.commonName.slice(0, 64), address: req.ip }, 'enrolment refused: the certificate request names another device');
      throw new Refusal('CSR_WRONG_DEVICE', `the certificate request names ${JSON.stringify(csr.commonName.slice(0, 64))}; this code is for device ${deviceId}`);
    }
    const document = this.settingsDocument(deviceId, settings, nowMs);
    const signed = await this.o.pki.signDevice(csr.pem, deviceId, nowMs);
    const used = await this.o.book.consume(token, nowMs, { certificate: issuedOf(signed.info, signed.certificatePem), settingsDocument: document });
    // Another request won the race for this token between the lookup and now: its certificate counts, this one is never sent.
    if (!used.ok) {
      if (used.cancelled) this.o.log.warn({ deviceId, address: req.ip }, 'enrolment refused: the code of this device was cancelled');
      throw new Refusal(used.reason, tokenMessage(used.reason));
    }
    await this.place(deviceId, settings);
    this.o.log.info({ deviceId, serial: signed.info.serialHex, notAfter: new Date(signed.info.notAfterMs).toISOString(), address: req.ip }, 'device enrolled');
    reply.header('cache-control', 'no-store');
    return this.result(deviceId, signed.certificatePem, document);
  }

  /**
   * An enrolment retried (its answer lost after the hub used the token): within ENROL_RETRY_MS of the
   * token's use, a CSR for the same key as the device's certificate, not renewed nor revoked since,
   * gets the same certificate and settings again. Undefined when that does not hold (TOKEN_USED then).
   */
  private async retried(req: FastifyRequest, token: string, nowMs: number): Promise<EnrolmentResult | undefined> {
    const held = await this.o.book.enrolledWith(token);
    if (!held || held.revoked || held.certPem === null || nowMs - held.usedAtMs > ENROL_RETRY_MS || nowMs < held.usedAtMs) return undefined;
    const csr = await this.readCsrBody(req);
    const cert = readCertificate(held.certPem);
    if (cert.fingerprint !== held.certFingerprint || csr.commonName !== held.deviceId || !sameKey(csr.publicKeyPem, cert.publicKeyPem)) return undefined;
    this.o.log.info({ deviceId: held.deviceId, serial: cert.serialHex, address: req.ip }, 'enrolment retried with the same key: the same certificate sent again');
    return this.result(held.deviceId, held.certPem, held.settingsDocument);
  }

  /** POST simplereenroll: the device's current certificate (TLS client certificate) and a CSR for a new key, same CN. */
  private async reenrol(req: FastifyRequest, reply: FastifyReply): Promise<EnrolmentResult> {
    const nowMs = this.now();
    const current = this.clientCertificate(req, nowMs);
    const deviceId = current.commonName;
    const device = await this.o.book.device(deviceId);
    if (!device) throw new Refusal('CERT_REQUIRED', 'the client certificate is not an enrolled device\'s');
    if (device.revokedAtMs !== null) {
      this.o.log.warn({ deviceId, address: req.ip }, 'renewal refused: the device is revoked');
      throw new Refusal('DEVICE_REVOKED', `device ${deviceId} is revoked at this hub`);
    }
    // Only the device's current certificate renews: one replaced by a renewal (or copied from an old disk image) does not.
    if (current.fingerprint !== device.certFingerprint) {
      this.o.log.warn({ deviceId, serial: current.serialHex, address: req.ip }, 'renewal refused: the client certificate is not the device\'s current one');
      throw new Refusal('CERT_REQUIRED', 'the client certificate is not this device\'s current certificate (it was replaced): enrol the device again with a new code');
    }
    const csr = await this.readCsrBody(req);
    if (csr.commonName !== deviceId) throw new Refusal('CSR_WRONG_DEVICE', `the certificate request names ${JSON.stringify(csr.commonName.slice(0, 64))}, not ${deviceId} (the client certificate)`);
    if (sameKey(csr.publicKeyPem, current.publicKeyPem)) throw new Refusal('CSR_INVALID', 'the certificate request is for the current key: a renewal needs a new key pair');
    this.readyOrRefuse();
    const signed = await this.o.pki.signDevice(csr.pem, deviceId, nowMs);
    const renewed = await this.o.book.renewCertificate(deviceId, current.fingerprint, issuedOf(signed.info, signed.certificatePem), nowMs);
    // Revoked, or renewed by another request, between the checks above and now: this certificate is never sent.
    if (renewed === 'revoked') throw new Refusal('DEVICE_REVOKED', `device ${deviceId} is revoked at this hub`);
    if (renewed !== 'renewed') throw new Refusal('CERT_REQUIRED', 'the client certificate is not this device\'s current certificate (it was replaced)');
    this.o.log.info({ deviceId, serial: signed.info.serialHex, notAfter: new Date(signed.info.notAfterMs).toISOString(), address: req.ip }, 'device certificate renewed');
    reply.header('cache-control', 'no-store');
    return this.result(deviceId, signed.certificatePem, device.settingsDocument);
  }

  private clientCertificate(req: FastifyRequest, nowMs: number): CertificateInfo {
    const socket = req.raw.socket as TLSSocket;
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
    if (!peer?.raw) throw new Refusal('CERT_REQUIRED', 'renewal needs the device certificate as TLS client certificate');
    const pem = `-----BEGIN CERTIFICATE-----\n${peer.raw.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
    if (!certificateSignedBy(pem, this.o.pki.caPem())) throw new Refusal('CERT_REQUIRED', 'the client certificate is not signed by this hub\'s CA');
    let info: CertificateInfo;
    try {
      info = readCertificate(pem);
    } catch {
      throw new Refusal('CERT_REQUIRED', 'the client certificate cannot be read');
    }
    if (info.notAfterMs <= nowMs) throw new Refusal('CERT_REQUIRED', 'the client certificate has expired: enrol the device again with a new code');
    if (info.notBeforeMs > nowMs) throw new Refusal('CERT_REQUIRED', 'the client certificate is not valid yet');
    if (!DEVICE_ID_PATTERN.test(info.commonName)) throw new Refusal('CERT_REQUIRED', 'the client certificate is not a device\'s');
    return info;
  }

  private async readCsrBody(req: FastifyRequest): Promise<{ pem: string; commonName: string; publicKeyPem: string }> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/pkcs10') throw new Refusal('CSR_INVALID', 'send the certificate request as Content-Type: application/pkcs10 (PEM)');
    const body = typeof req.body === 'string' ? req.body : '';
    if (body.length === 0) throw new Refusal('CSR_INVALID', 'no certificate request in the body');
    try {
      const csr = await readCsr(body);
      return { pem: body, commonName: csr.commonName, publicKeyPem: csr.publicKeyPem };
    } catch (err) {
      if (err instanceof X509Error) throw new Refusal('CSR_INVALID', `the certificate request is unusable: ${err.message}`);
      throw err;
    }
  }

  private readyOrRefuse(): KeyObject {
    if (!this.o.signingKey) throw new Refusal('HUB_NOT_READY', 'the hub has no downlink signing key (signingKey in its settings)');
    if (this.o.keys.pass.length === 0) throw new Refusal('HUB_NOT_READY', 'the hub has no pass key to give (passKey in its settings)');
    if (this.o.keys.downlink.length === 0) throw new Refusal('HUB_NOT_READY', 'the hub has no downlink key to give');
    return this.o.signingKey;
  }

  /** The enrolment settings document (version 1), signed by the downlink key, as COSE_Sign1 bytes over its JSON. */
  private settingsDocument(deviceId: string, s: EnrolmentSettings, nowMs: number): Uint8Array {
    const key = this.readyOrRefuse();
    const gate = s.gpioProfile === undefined ? undefined : this.o.gpioProfiles[s.gpioProfile];
    if (s.gpioProfile !== undefined && gate === undefined) throw new Refusal('HUB_NOT_READY', `the GPIO profile ${s.gpioProfile} of this code is no longer in the hub settings`);
    const document: DeviceSettingsDocument = {
      v: 1,
      deviceId,
      version: 1,
      issuedAtMs: nowMs,
      source: 'enrolment',
      settings: { checkpoint: { ...s.checkpoint, site: s.siteId }, ...(gate ? { gate } : {}) },
    };
    return signCoseSign1(Buffer.from(JSON.stringify(document), 'utf8'), key, keyIdOf(key));
  }

  private result(deviceId: string, certificatePem: string, document: Uint8Array): EnrolmentResult {
    return enrolmentResultSchema.parse({
      v: 1,
      deviceId,
      certificate: certificatePem,
      caCertificate: this.o.pki.caPem(),
      brokerUrl: this.o.brokerUrl,
      keys: { pass: this.o.keys.pass, downlink: this.o.keys.downlink, ...(this.o.keys['phone-pass']?.length ? { 'phone-pass': this.o.keys['phone-pass'] } : {}) },
      settings: Buffer.from(document).toString('base64'),
    } satisfies EnrolmentResult);
  }

  /** The device joins its site, at its checkpoint when the registry knows that checkpoint there (as `hub device assign` and placement do). */
  private async place(deviceId: string, s: EnrolmentSettings): Promise<void> {
    try {
      const known = (await this.o.directory.checkpoints(s.siteId)).some((c) => c.id === s.checkpoint.id);
      if (known) await this.o.directory.placeDevices(s.checkpoint.id, [deviceId]);
      else await this.o.directory.assignSite(s.siteId, [deviceId]);
    } catch (err) {
      // The device is enrolled (its certificate is recorded); the operator can place it by hand.
      this.o.log.error({ deviceId, site: s.siteId, err }, 'enrolled device not placed at its site: place it with `safegate hub device assign`');
    }
  }
}

/** Whether two PEM public keys are the same key (compared as DER, whatever the PEM line breaks). */
function sameKey(a: string, b: string): boolean {
  const der = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return der(a).equals(der(b));
}

function issuedOf(info: CertificateInfo, pem: string) {
  return { serialHex: info.serialHex, notAfterMs: info.notAfterMs, fingerprint: info.fingerprint, pem };
}

function tokenMessage(reason: 'TOKEN_UNKNOWN' | 'TOKEN_USED' | 'TOKEN_EXPIRED'): string {
  return {
    TOKEN_UNKNOWN: 'this enrolment code is not known at this hub',
    TOKEN_USED: 'this enrolment code has been used already (each code enrols one device, once)',
    TOKEN_EXPIRED: 'this enrolment code has expired; make a new one with `safegate hub enrol create`',
  }[reason];
}
