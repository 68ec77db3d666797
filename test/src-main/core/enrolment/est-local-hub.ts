import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { EST_PATHS, formatEnrolmentCode, type DeviceSettingsDocument } from '../../../../base/common/enrolment.js';
import { signCoseSign1 } from '../../../../base/node/cose.js';
import { generateSigningKeyPair, keyIdOf, type GeneratedKeyPair } from '../../../../base/node/keys.js';
import { readCsr } from '../../../../base/node/x509.js';
import { pemFingerprint } from '../../../../src-main/core/enrolment/folder.js';
import { TestCertificates } from '../../../helpers/mosquitto.js';

/**
 * A stand-in for the hub's enrolment endpoint (real HTTPS on loopback, a real openssl CA), for the
 * kiosk client's tests until and beside H1's server: one-time tokens, CSR signed with openssl, the
 * answer of enrolmentResultSchema with a settings document signed by a downlink key. `answer` lets a
 * test change what the hub says (a foreign device's document, a broken answer).
 */
export class LocalEnrolHub {
  readonly certs: TestCertificates;
  readonly downlink: GeneratedKeyPair = generateSigningKeyPair('ES256');
  readonly pass: GeneratedKeyPair = generateSigningKeyPair('ES256');
  readonly tokens = new Map<string, { deviceId: string; used: boolean }>();
  /** Settings for the enrolment document; a test may change them. */
  settings: Record<string, unknown> = { checkpoint: { id: 'gate-h', name: 'Cổng H', kind: 'gate', site: 'site-h' } };
  /** Rewrites the answer before it is sent (tests of bad answers). */
  tamper: ((answer: Record<string, unknown>) => Record<string, unknown>) | undefined;
  /** Documents signed as someone else's (tests of a foreign document). */
  docDeviceId: string | undefined;
  /** Devices whose renewal is refused (DEVICE_REVOKED). */
  readonly revoked = new Set<string>();
  renewals = 0;
  /** Never answers (tests of the deadline). */
  silent = false;
  private server!: Server;
  port = 0;
  private serial = 100;

  constructor(readonly dir: string) {
    this.certs = new TestCertificates(join(dir, 'hub-ca'));
  }

  get caFingerprint(): string {
    return pemFingerprint(readFileSync(join(this.certs.dir, 'ca.crt'), 'utf8'));
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  newCode(deviceId: string, o: { caFingerprint?: string } = {}): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, { deviceId, used: false });
    return formatEnrolmentCode({ hubUrl: this.url, deviceId, token, caFingerprint: o.caFingerprint ?? this.caFingerprint });
  }

  signDoc(doc: Partial<DeviceSettingsDocument> & Pick<DeviceSettingsDocument, 'deviceId'>, key: KeyObject = createPrivateKey(this.downlink.privatePem)): string {
    const full: DeviceSettingsDocument = { v: 1, version: 1, issuedAtMs: Date.now(), source: 'enrolment', settings: this.settings, ...doc };
    return Buffer.from(signCoseSign1(new TextEncoder().encode(JSON.stringify(full)), key, keyIdOf(key))).toString('base64');
  }

  async start(): Promise<this> {
    const tls = { key: readFileSync(join(this.certs.dir, 'server.key')), cert: readFileSync(join(this.certs.dir, 'server.crt')), ca: readFileSync(join(this.certs.dir, 'ca.crt')) };
    const server = createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': typeof body === 'string' ? 'application/pem-certificate-chain' : 'application/json' });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      const refuse = (status: number, code: string) => reply(status, { error: { code, message: `refused: ${code}` } });
      if (this.silent) return;
      if (req.method === 'GET' && req.url === EST_PATHS.cacerts) return reply(200, readFileSync(join(this.certs.dir, 'ca.crt'), 'utf8'));
      const renewal = req.url === EST_PATHS.simplereenroll;
      if (req.method !== 'POST' || (req.url !== EST_PATHS.simpleenroll && !renewal)) return refuse(404, 'HUB_NOT_READY');
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          let deviceId: string;
          let consume = () => {};
          if (renewal) {
            // The client certificate, verified by TLS against the CA (not enforced at the handshake: enrolment has none).
            const socket = req.socket as TLSSocket;
            const peer = socket.getPeerCertificate();
            if (!socket.authorized || !peer.subject) return refuse(401, 'CERT_REQUIRED');
            deviceId = String(peer.subject.CN);
            if (this.revoked.has(deviceId)) return refuse(403, 'DEVICE_REVOKED');
            this.renewals++;
          } else {
            const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
            if (!token) return refuse(401, 'TOKEN_MISSING');
            const t = this.tokens.get(token);
            if (!t) return refuse(401, 'TOKEN_UNKNOWN');
            if (t.used) return refuse(409, 'TOKEN_USED');
            deviceId = t.deviceId;
            consume = () => (t.used = true);
          }
          const csrPem = Buffer.concat(chunks).toString('utf8');
          let cn: string;
          try {
            cn = (await readCsr(csrPem)).commonName;
          } catch {
            return refuse(400, 'CSR_INVALID');
          }
          if (cn !== deviceId) return refuse(403, 'CSR_WRONG_DEVICE');
          consume();
          const name = `dev-${this.serial++}`;
          writeFileSync(join(this.certs.dir, `${name}.csr`), csrPem);
          execFileSync('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', `${name}.crt`], { cwd: this.certs.dir, stdio: 'ignore' });
          let answer: Record<string, unknown> = {
            v: 1,
            deviceId,
            certificate: readFileSync(join(this.certs.dir, `${name}.crt`), 'utf8'),
            caCertificate: readFileSync(join(this.certs.dir, 'ca.crt'), 'utf8'),
            brokerUrl: 'mqtts://127.0.0.1:8883',
            keys: { pass: [this.pass.publicPem], downlink: [this.downlink.publicPem] },
            settings: this.signDoc({ deviceId: this.docDeviceId ?? deviceId }),
          };
          if (this.tamper) answer = this.tamper(answer);
          reply(200, answer);
        })();
      });
    });
    this.server = server;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}
