import { createPrivateKey, createPublicKey } from 'node:crypto';
import { request } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EST_PATHS, MAX_CSR_BYTES, deviceSettingsDocumentSchema, enrolmentRefusalSchema, enrolmentResultSchema } from '../../../../base/common/enrolment.js';
import { HubKeyring, generateSigningKeyPair, type GeneratedKeyPair } from '../../../../base/node/keys.js';
import { openSigned } from '../../../../base/node/signed.js';
import { certificateSignedBy, createCsr, generateDeviceKey, readCertificate, type DeviceKeyPair } from '../../../../base/node/x509.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { EnrolServer, type EnrolServerOptions } from '../../../../sync/hub/fleet/enrol-server.js';
import { EnrolmentBook, type EnrolmentSettings } from '../../../../sync/hub/fleet/enrolment-book.js';
import { HubPki } from '../../../../sync/hub/fleet/pki.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';

const HOUR = 3_600_000;
const dir = tempDir('safegate-enrol-server-');
let pki: HubPki;
let foreignPki: HubPki;
let downlink: GeneratedKeyPair;
let pass: GeneratedKeyPair;

beforeAll(async () => {
  pki = await HubPki.init(join(dir.path, 'pki'), { hosts: ['localhost', '127.0.0.1'], hubIds: ['hub.1'] });
  foreignPki = await HubPki.init(join(dir.path, 'foreign'), { hosts: ['localhost'], hubIds: [] });
  downlink = generateSigningKeyPair('ES256');
  pass = generateSigningKeyPair('EdDSA');
});
afterAll(() => dir.remove());

const SETTINGS: EnrolmentSettings = { siteId: 'site-a', checkpoint: { id: 'gate-a', name: 'Cổng A', kind: 'gate', direction: 'entry' }, gpioProfile: 'turnstile' };
const TURNSTILE = { relay: { pin: 5, pulseMs: 800 } };

interface Answer {
  status: number;
  json: unknown;
  text: string;
}

function call(port: number, path: string, o: { method?: string; body?: string | Buffer; token?: string; authorization?: string; contentType?: string; client?: { key: string; cert: string } } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.body !== undefined) headers['content-type'] = o.contentType ?? 'application/pkcs10';
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    if (o.authorization !== undefined) headers.authorization = o.authorization;
    const req = request(
      { host: '127.0.0.1', port, path, method: o.method ?? (o.body === undefined ? 'GET' : 'POST'), headers, ca: pki.caPem(), agent: false, ...(o.client ? { key: o.client.key, cert: o.client.cert } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(o.body);
  });
}

/** Resolves with how long the server took to close the socket; rejects if it is still open after boundMs. */
function closedBy(socket: Socket, boundMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the socket open for ${boundMs} ms`));
    }, boundMs);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

function tlsSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.caPem() }, () => resolve(s));
    s.once('error', reject);
  });
}

function expectRefusal(a: Answer, status: number, code: string): void {
  expect({ status: a.status, code: (a.json as { error?: { code?: string } } | undefined)?.error?.code }).toEqual({ status, code });
  expect(enrolmentRefusalSchema.safeParse(a.json).success).toBe(true);
}

describe.each(directoryBackends)('the enrolment endpoint on $name', (backend) => {
  let directory: HubDirectory;
  const opened: HubDirectory[] = [];
  let book: EnrolmentBook;
  let server: EnrolServer;
  let logged: string;
  const servers: EnrolServer[] = [];

  async function startServer(over: Partial<EnrolServerOptions> = {}): Promise<EnrolServer> {
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          logged += chunk.toString('utf8');
          done();
        },
      }),
    );
    const s = new EnrolServer({
      pki,
      book,
      directory,
      signingKey: createPrivateKey(downlink.privatePem),
      keys: { pass: [pass.publicPem], downlink: [downlink.publicPem] },
      brokerUrl: 'mqtts://localhost:8883',
      gpioProfiles: { turnstile: TURNSTILE },
      host: '127.0.0.1',
      port: 0,
      rateLimitPerMinute: 1_000,
      log,
      ...over,
    });
    await s.start();
    servers.push(s);
    return s;
  }

  async function token(settings: EnrolmentSettings = SETTINGS, nowMs = Date.now(), expiresInMs = HOUR): Promise<{ deviceId: string; token: string }> {
    const [t] = await book.createTokens({ settings, expiresInMs, nowMs });
    return t!;
  }

  async function enrol(t: { deviceId: string; token: string }, key: DeviceKeyPair = generateDeviceKey()): Promise<Answer> {
    return call(server.port, EST_PATHS.simpleenroll, { body: await createCsr(key.privateKeyPem, t.deviceId), token: t.token });
  }

  beforeEach(async () => {
    logged = '';
    directory = await HubDirectory.open(await backend.target());
    opened.push(directory);
    book = new EnrolmentBook(directory.sql);
    server = await startServer();
    // The first PostgreSQL test starts the server (when the run has none).
  }, 120_000);
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
    for (const d of opened.splice(0)) await d.close();
  });

  it('gives the CA certificate to anyone, the one whose fingerprint the codes carry', async () => {
    const a = await call(server.port, EST_PATHS.cacerts);
    expect(a.status).toBe(200);
    expect(a.text).toBe(pki.caPem());
  });

  it('enrols: a certificate for the token\'s device, the hub keys, the signed settings; the device is placed at its site and checkpoint', async () => {
    await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' });
    await directory.addSite({ id: 'site-a', orgId: 'org-a' });
    await directory.addCheckpoint({ id: 'gate-a', siteId: 'site-a', kind: 'gate' });
    const t = await token();
    const key = generateDeviceKey();
    const a = await enrol(t, key);
    expect(a.status).toBe(200);
    const r = enrolmentResultSchema.parse(a.json);
    expect(r.deviceId).toBe(t.deviceId);
    const cert = readCertificate(r.certificate);
    expect(cert.commonName).toBe(t.deviceId);
    expect(cert.publicKeyPem).toBe(key.publicKeyPem);
    expect(certificateSignedBy(r.certificate, r.caCertificate)).toBe(true);
    expect(r.caCertificate).toBe(pki.caPem());
    expect(r.brokerUrl).toBe('mqtts://localhost:8883');
    expect(r.keys).toEqual({ pass: [pass.publicPem], downlink: [downlink.publicPem] });
    const ring = new HubKeyring();
    ring.add(createPublicKey(downlink.publicPem), { role: 'downlink', source: 'test' });
    const opened = openSigned(Buffer.from(r.settings, 'base64'), ring, 'device-settings', Date.now());
    expect(opened.ok).toBe(true);
    const doc = deviceSettingsDocumentSchema.parse(JSON.parse(Buffer.from((opened as { payload: Uint8Array }).payload).toString('utf8')));
    expect(doc).toMatchObject({ deviceId: t.deviceId, version: 1, source: 'enrolment', settings: { checkpoint: { id: 'gate-a', name: 'Cổng A', kind: 'gate', direction: 'entry', site: 'site-a' }, gate: TURNSTILE } });
    expect(await directory.placementOf(t.deviceId)).toMatchObject({ siteId: 'site-a', checkpointId: 'gate-a' });
    expect(await book.device(t.deviceId)).toMatchObject({ certSerial: cert.serialHex, certFingerprint: cert.fingerprint });
    expect(logged).toContain(t.deviceId);
    expect(logged).not.toContain(t.token);
  });

  it('a checkpoint the registry does not know: the device joins the site only; no GPIO profile: no gate settings', async () => {
    const t = await token({ siteId: 'site-b', checkpoint: { id: 'bus-7', name: 'Xe 7', kind: 'bus', direction: 'both' } });
    const r = enrolmentResultSchema.parse((await enrol(t)).json);
    const ring = new HubKeyring();
    ring.add(createPublicKey(downlink.publicPem), { role: 'downlink', source: 'test' });
    const opened = openSigned(Buffer.from(r.settings, 'base64'), ring, 'device-settings', Date.now());
    const doc = deviceSettingsDocumentSchema.parse(JSON.parse(Buffer.from((opened as { payload: Uint8Array }).payload).toString('utf8')));
    expect(doc.settings).toEqual({ checkpoint: { id: 'bus-7', name: 'Xe 7', kind: 'bus', direction: 'both', site: 'site-b' } });
    expect(await directory.siteOf(t.deviceId)).toBe('site-b');
    expect((await directory.placementOf(t.deviceId))?.checkpointId).toBeNull();
  });

  it('refuses a replayed, unknown, missing or expired token', async () => {
    const t = await token();
    expect((await enrol(t)).status).toBe(200);
    expectRefusal(await enrol(t), 409, 'TOKEN_USED');
    expectRefusal(await enrol({ deviceId: t.deviceId, token: 'x'.repeat(43) }), 401, 'TOKEN_UNKNOWN');
    const csr = await createCsr(generateDeviceKey().privateKeyPem, t.deviceId);
    expectRefusal(await call(server.port, EST_PATHS.simpleenroll, { body: csr }), 401, 'TOKEN_MISSING');
    expectRefusal(await call(server.port, EST_PATHS.simpleenroll, { body: csr, authorization: 'Basic abc' }), 401, 'TOKEN_MISSING');
    const old = await token(SETTINGS, Date.now() - 2 * HOUR, HOUR);
    expectRefusal(await enrol(old), 410, 'TOKEN_EXPIRED');
    expect(logged).not.toContain(t.token);
  });

  it('a retry with the same key within the hour gets the same certificate and settings again; another key, a later retry, or a renewed or revoked device: TOKEN_USED', async () => {
    const t = await token();
    const key = generateDeviceKey();
    const first = enrolmentResultSchema.parse((await enrol(t, key)).json);
    const again = await enrol(t, key);
    expect(again.status, again.text).toBe(200);
    const second = enrolmentResultSchema.parse(again.json);
    expect(second.certificate).toBe(first.certificate);
    expect(second.settings).toBe(first.settings);
    expect(logged).toMatch(/enrolment retried with the same key/);
    expect(logged).not.toContain(t.token);
    expectRefusal(await enrol(t), 409, 'TOKEN_USED');
    // An hour and more after the token's use, the same key gets TOKEN_USED too.
    const later = await startServer({ now: () => Date.now() + HOUR + 60_000 });
    expectRefusal(await call(later.port, EST_PATHS.simpleenroll, { body: await createCsr(key.privateKeyPem, t.deviceId), token: t.token }), 409, 'TOKEN_USED');
    // Once renewed, the first certificate is no longer the device's: a retry gets nothing.
    const newKey = generateDeviceKey();
    const renewed = await call(server.port, EST_PATHS.simplereenroll, { body: await createCsr(newKey.privateKeyPem, t.deviceId), client: { key: key.privateKeyPem, cert: first.certificate } });
    expect(renewed.status, renewed.text).toBe(200);
    expectRefusal(await enrol(t, key), 409, 'TOKEN_USED');
    expectRefusal(await enrol(t, newKey), 409, 'TOKEN_USED');

    const u = await token();
    const uKey = generateDeviceKey();
    expect((await enrol(u, uKey)).status).toBe(200);
    await book.markRevoked(u.deviceId);
    expectRefusal(await enrol(u, uKey), 409, 'TOKEN_USED');
  });

  it('refuses a cancelled code as unknown, says at the hub why, and enrols nothing', async () => {
    const t = await token();
    expect((await book.cancelTokens({ deviceIds: [t.deviceId] })).cancelled).toEqual([t.deviceId]);
    expectRefusal(await enrol(t), 401, 'TOKEN_UNKNOWN');
    expect(await book.device(t.deviceId)).toBeUndefined();
    expect(logged).toMatch(/code of this device was cancelled/);
    expect(logged).toContain(t.deviceId);
    expect(logged).not.toContain(t.token);
  });

  it('refuses a CSR for another device id, garbage, a wrong type and an oversized body, and the token stays usable', async () => {
    const t = await token();
    const key = generateDeviceKey();
    const other = await call(server.port, EST_PATHS.simpleenroll, { body: await createCsr(key.privateKeyPem, 'someone-else'), token: t.token });
    expectRefusal(other, 403, 'CSR_WRONG_DEVICE');
    expectRefusal(await call(server.port, EST_PATHS.simpleenroll, { body: 'not a csr', token: t.token }), 400, 'CSR_INVALID');
    const good = await createCsr(key.privateKeyPem, t.deviceId);
    expectRefusal(await call(server.port, EST_PATHS.simpleenroll, { body: good, token: t.token, contentType: 'application/json' }), 400, 'CSR_INVALID');
    expectRefusal(await call(server.port, EST_PATHS.simpleenroll, { body: `${good.slice(0, 200)}\n-----END CERTIFICATE REQUEST-----\n`, token: t.token }), 400, 'CSR_INVALID');
    expectRefusal(await call(server.port, EST_PATHS.simpleenroll, { body: 'A'.repeat(MAX_CSR_BYTES + 1), token: t.token }), 400, 'CSR_INVALID');
    expect((await book.lookup(t.token)).ok).toBe(true);
    expect((await call(server.port, EST_PATHS.simpleenroll, { body: good, token: t.token })).status).toBe(200);
  });

  it('without the downlink key the hub is not ready, and the token is not spent', async () => {
    const bare = await startServer({ signingKey: undefined });
    const t = await token();
    const a = await call(bare.port, EST_PATHS.simpleenroll, { body: await createCsr(generateDeviceKey().privateKeyPem, t.deviceId), token: t.token });
    expectRefusal(a, 503, 'HUB_NOT_READY');
    expect((await book.lookup(t.token)).ok).toBe(true);
  });

  it('renews with the current certificate as client certificate; refuses without one, with a foreign CA\'s, for another CN, and once revoked', async () => {
    const t = await token();
    const key = generateDeviceKey();
    const first = enrolmentResultSchema.parse((await enrol(t, key)).json);
    const client = { key: key.privateKeyPem, cert: first.certificate };
    const newKey = generateDeviceKey();
    const csr = await createCsr(newKey.privateKeyPem, t.deviceId);

    const renewed = await call(server.port, EST_PATHS.simplereenroll, { body: csr, client });
    expect(renewed.status).toBe(200);
    const r = enrolmentResultSchema.parse(renewed.json);
    const info = readCertificate(r.certificate);
    expect(info.commonName).toBe(t.deviceId);
    expect(info.publicKeyPem).toBe(newKey.publicKeyPem);
    expect(info.serialHex).not.toBe(readCertificate(first.certificate).serialHex);
    expect(r.settings).toBe(first.settings);
    expect((await book.device(t.deviceId))?.certSerial).toBe(info.serialHex);

    expectRefusal(await call(server.port, EST_PATHS.simplereenroll, { body: csr }), 401, 'CERT_REQUIRED');
    const foreign = await foreignPki.signDevice(await createCsr(key.privateKeyPem, t.deviceId), t.deviceId);
    expectRefusal(await call(server.port, EST_PATHS.simplereenroll, { body: csr, client: { key: key.privateKeyPem, cert: foreign.certificatePem } }), 401, 'CERT_REQUIRED');
    // A certificate of this CA for a device the book never enrolled (or a hub process's) does not renew either.
    const stray = await pki.signDevice(await createCsr(key.privateKeyPem, 'stray-0001'), 'stray-0001');
    expectRefusal(await call(server.port, EST_PATHS.simplereenroll, { body: await createCsr(newKey.privateKeyPem, 'stray-0001'), client: { key: key.privateKeyPem, cert: stray.certificatePem } }), 401, 'CERT_REQUIRED');
    // The first certificate was replaced by the renewal: it renews nothing any more (a copied old key is useless).
    const again = await createCsr(generateDeviceKey().privateKeyPem, t.deviceId);
    expectRefusal(await call(server.port, EST_PATHS.simplereenroll, { body: again, client }), 401, 'CERT_REQUIRED');
    expect(logged).toMatch(/not the device's current one/);
    const current = { key: newKey.privateKeyPem, cert: r.certificate };
    expectRefusal(await call(server.port, EST_PATHS.simplereenroll, { body: await createCsr(generateDeviceKey().privateKeyPem, 'other-device'), client: current }), 403, 'CSR_WRONG_DEVICE');
    // A renewal needs a new key: a CSR for the current certificate's key is refused, and the current certificate stays current.
    expectRefusal(await call(server.port, EST_PATHS.simplereenroll, { body: csr, client: current }), 400, 'CSR_INVALID');
    expect((await book.device(t.deviceId))?.certSerial).toBe(info.serialHex);
    // The current one renews again, with a new key.
    const third = await call(server.port, EST_PATHS.simplereenroll, { body: again, client: current });
    expect(third.status, third.text).toBe(200);
    const thirdInfo = readCertificate(enrolmentResultSchema.parse(third.json).certificate);
    expectRefusal(await call(server.port, EST_PATHS.simplereenroll, { body: await createCsr(generateDeviceKey().privateKeyPem, t.deviceId), client: current }), 401, 'CERT_REQUIRED');

    expect(await book.markRevoked(t.deviceId)).toMatchObject({ serials: expect.arrayContaining([info.serialHex, thirdInfo.serialHex]) as unknown });
    expectRefusal(await call(server.port, EST_PATHS.simplereenroll, { body: csr, client }), 403, 'DEVICE_REVOKED');
  });

  it('drops a client that sends nothing, one that stops after the handshake, one that drips its request, and connections beyond the cap', async () => {
    const limits = { handshakeTimeoutMs: 1_000, idleTimeoutMs: 1_000, headersTimeoutMs: 1_500, requestTimeoutMs: 1_500, keepAliveTimeoutMs: 500, checkIntervalMs: 200, maxConnections: 3 };
    const s = await startServer({ limits });
    const bound = 8_000;
    // A raw TCP socket that never starts TLS.
    const silent = netConnect({ host: '127.0.0.1', port: s.port });
    // A TLS socket that never sends a request.
    const idle = await tlsSocket(s.port);
    // A TLS socket whose request arrives one byte every 150 ms (never idle long enough for the idle deadline).
    const drip = await tlsSocket(s.port);
    const t = await token();
    const csr = await createCsr(generateDeviceKey().privateKeyPem, t.deviceId);
    const bytes = Buffer.from(`POST ${EST_PATHS.simpleenroll} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: application/pkcs10\r\nContent-Length: ${csr.length}\r\n\r\n${csr}`);
    let i = 0;
    let answered = '';
    drip.on('data', (c: Buffer) => (answered += c.toString('utf8')));
    const dripping = setInterval(() => {
      if (drip.destroyed || i >= bytes.length) return;
      drip.write(bytes.subarray(i, i + 1));
      i += 1;
    }, 150);
    try {
      const [a, b, c] = await Promise.all([closedBy(silent, bound), closedBy(idle, bound), closedBy(drip, bound)]);
      expect([a, b, c].every((ms) => ms < bound)).toBe(true);
    } finally {
      clearInterval(dripping);
    }
    expect(i).toBeLessThan(bytes.length);
    expect(answered).not.toContain('200 OK');
    expect((await book.lookup(t.token)).ok).toBe(true);

    // The connection cap: with 3 open, a 4th is closed at once, before its handshake; the 3 stay usable.
    const held = await Promise.all([tlsSocket(s.port), tlsSocket(s.port), tlsSocket(s.port)]);
    const extra = tlsConnect({ host: '127.0.0.1', port: s.port, servername: 'localhost', ca: pki.caPem() });
    let extraSecure = false;
    extra.on('secureConnect', () => (extraSecure = true));
    await closedBy(extra, bound);
    expect(extraSecure).toBe(false);
    expect(held.every((h) => !h.destroyed)).toBe(true);
    for (const h of held) h.destroy();
    // Once they are gone the endpoint serves again.
    await new Promise((r) => setTimeout(r, 200));
    expect((await call(s.port, EST_PATHS.cacerts)).status).toBe(200);
  }, 30_000);

  it('limits enrolment requests per address; the public CA certificate is out of the limit', async () => {
    const limited = await startServer({ rateLimitPerMinute: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(limited.port, EST_PATHS.simpleenroll, { body: 'x' })).status);
    expect(statuses).toEqual([401, 401, 401]);
    expect((await call(limited.port, EST_PATHS.cacerts)).status).toBe(200);
    const t = await token();
    expectRefusal(await call(limited.port, EST_PATHS.simpleenroll, { body: await createCsr(generateDeviceKey().privateKeyPem, t.deviceId), token: t.token }), 429, 'RATE_LIMITED');
    for (let i = 0; i < 3; i++) expect((await call(limited.port, EST_PATHS.cacerts)).status).toBe(200);
  });
});
