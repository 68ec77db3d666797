import { z } from 'zod';
import { DEVICE_ID_PATTERN, DEVICE_ID_RULE, deviceIdSchema } from './ids.js';

/**
 * Enrolling a kiosk with the hub, in the manner of EST (RFC 7030) and of "fleet provisioning by
 * claim": the hub makes a one-time token for a device id it assigns and prints it as a QR code with
 * the hub's address and the fingerprint of the hub's CA; the kiosk makes its own key pair, fetches
 * the CA certificates over TLS, accepts them only if their fingerprint is the one in the code, and
 * then sends a certificate request with the token over TLS checked against that CA. The hub signs a
 * certificate (CN = the device id) with its CA and answers with the kiosk's settings, signed by a
 * downlink key. Renewal goes the same way with the kiosk's current certificate instead of a token.
 *
 * Isomorphic: the screens read an enrolment code too (to say "enrolling" rather than "unknown code").
 */

/** What an enrolment code starts with. A gate never treats it as a pass. */
export const ENROLMENT_CODE_PREFIX = 'SGE1:';

/** A token is 32 random bytes in base64url, no padding. The hub keeps only its SHA-256. */
export const ENROLMENT_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** SHA-256 of the hub CA certificate (DER), lower-case hex. */
export const CA_FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;

/** The longest enrolment code accepted (the URL is bounded; the rest is fixed length). */
export const MAX_ENROLMENT_CODE_LENGTH = 512;

export interface EnrolmentCode {
  /** The hub's enrolment endpoint, `https://host[:port]` (no path, query or fragment). */
  hubUrl: string;
  /** The device id the hub assigned to this token; the certificate request must name it. */
  deviceId: string;
  token: string;
  /** SHA-256 of the hub CA certificate (DER), lower-case hex. */
  caFingerprint: string;
}

export class EnrolmentCodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnrolmentCodeError';
  }
}

/** True when the text is meant as an enrolment code (it may still be malformed). */
export function isEnrolmentCode(text: string): boolean {
  return text.startsWith(ENROLMENT_CODE_PREFIX);
}

/**
 * `SGE1:https://hub.example.vn:8443#d=kiosk-a-0001&t=<token>&ca=<64 hex>`: the text of the QR code
 * `safegate hub enrol create` prints.
 */
export function formatEnrolmentCode(code: EnrolmentCode): string {
  const url = normaliseHubUrl(code.hubUrl);
  if (!DEVICE_ID_PATTERN.test(code.deviceId)) throw new EnrolmentCodeError(`device id: ${DEVICE_ID_RULE}`);
  if (!ENROLMENT_TOKEN_PATTERN.test(code.token)) throw new EnrolmentCodeError('token: 43 base64url characters expected');
  if (!CA_FINGERPRINT_PATTERN.test(code.caFingerprint)) throw new EnrolmentCodeError('CA fingerprint: 64 lower-case hex digits expected');
  return `${ENROLMENT_CODE_PREFIX}${url}#d=${code.deviceId}&t=${code.token}&ca=${code.caFingerprint}`;
}

/** Reads an enrolment code; anything else is refused with a reason a person can act on. */
export function parseEnrolmentCode(text: string): EnrolmentCode {
  const trimmed = text.trim();
  if (!isEnrolmentCode(trimmed)) throw new EnrolmentCodeError(`not an enrolment code (it starts with ${ENROLMENT_CODE_PREFIX})`);
  if (trimmed.length > MAX_ENROLMENT_CODE_LENGTH) throw new EnrolmentCodeError(`too long (at most ${MAX_ENROLMENT_CODE_LENGTH} characters)`);
  const body = trimmed.slice(ENROLMENT_CODE_PREFIX.length);
  const hash = body.indexOf('#');
  if (hash < 0) throw new EnrolmentCodeError('no token part (#d=...&t=...&ca=...)');
  const hubUrl = normaliseHubUrl(body.slice(0, hash));
  const fields = new Map<string, string>();
  for (const pair of body.slice(hash + 1).split('&')) {
    const eq = pair.indexOf('=');
    // Not echoed: a field with no name can be the start of the token, and the message reaches logs.
    if (eq <= 0) throw new EnrolmentCodeError('a field is not name=value');
    const key = pair.slice(0, eq);
    if (fields.has(key)) throw new EnrolmentCodeError(`field ${key} given twice`);
    fields.set(key, pair.slice(eq + 1));
  }
  for (const key of fields.keys()) {
    if (!['d', 't', 'ca'].includes(key)) throw new EnrolmentCodeError(`unknown field "${key.slice(0, 20)}"`);
  }
  const deviceId = fields.get('d') ?? '';
  const token = fields.get('t') ?? '';
  const caFingerprint = fields.get('ca') ?? '';
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new EnrolmentCodeError(`device id: ${DEVICE_ID_RULE}`);
  if (!ENROLMENT_TOKEN_PATTERN.test(token)) throw new EnrolmentCodeError('token: 43 base64url characters expected');
  if (!CA_FINGERPRINT_PATTERN.test(caFingerprint)) throw new EnrolmentCodeError('CA fingerprint: 64 lower-case hex digits expected');
  return { hubUrl, deviceId, token, caFingerprint };
}

function normaliseHubUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new EnrolmentCodeError('the hub address is not a URL');
  }
  if (url.protocol !== 'https:') throw new EnrolmentCodeError('the hub address must be https://');
  if (url.username || url.password) throw new EnrolmentCodeError('the hub address may not carry a user name or password');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new EnrolmentCodeError('the hub address is https://host[:port] only (no path or query)');
  }
  return url.origin;
}

/** The enrolment endpoint's paths (RFC 7030's well-known names). */
export const EST_PATHS = {
  /** GET: the hub CA certificate(s), PEM (`application/pem-certificate-chain`). No credential. */
  cacerts: '/.well-known/est/cacerts',
  /** POST a PEM certificate request (`application/pkcs10`) with `Authorization: Bearer <token>`. */
  simpleenroll: '/.well-known/est/simpleenroll',
  /** POST a PEM certificate request over TLS with the device's current certificate as client certificate. */
  simplereenroll: '/.well-known/est/simplereenroll',
} as const;

/** The largest certificate request the hub reads (a P-256 CSR in PEM is under 1 KiB). */
export const MAX_CSR_BYTES = 8 * 1024;

/** Why the hub refused a request; the kiosk shows each in words (its message catalogue). */
export const ENROLMENT_REFUSALS = [
  'TOKEN_MISSING',
  'TOKEN_UNKNOWN',
  'TOKEN_USED',
  'TOKEN_EXPIRED',
  'CSR_INVALID',
  'CSR_WRONG_DEVICE',
  'CERT_REQUIRED',
  'DEVICE_REVOKED',
  'RATE_LIMITED',
  'HUB_NOT_READY',
] as const;
export type EnrolmentRefusal = (typeof ENROLMENT_REFUSALS)[number];

/**
 * Why enrolling this kiosk failed, as the kiosk says it (screens, `safegate enrol`): the hub's
 * refusals and the kiosk's own reasons (the CA in the code is not the hub's, the code cannot be read,
 * the hub cannot be reached, its answer or settings are unusable, the kiosk is enrolled already, the
 * kiosk's enrolment folder is there but damaged: only IT re-enrols it, at the shell with --force; the
 * kiosk could not write its own files, e.g. a full disk).
 */
export const ENROL_FAILURES = [
  ...ENROLMENT_REFUSALS,
  'CA_MISMATCH',
  'CODE_INVALID',
  'NETWORK',
  'BAD_ANSWER',
  'SETTINGS_INVALID',
  'ALREADY_ENROLLED',
  'ENROLMENT_DAMAGED',
  'LOCAL_ERROR',
] as const;
export type EnrolFailure = (typeof ENROL_FAILURES)[number];

export const enrolmentRefusalSchema = z
  .strictObject({
    error: z.strictObject({
      code: z.enum(ENROLMENT_REFUSALS),
      message: z.string().max(500),
    }),
  });
export type EnrolmentRefusalBody = z.infer<typeof enrolmentRefusalSchema>;

const pemSchema = (label: string) =>
  z
    .string()
    .max(16 * 1024)
    .regex(new RegExp(`^-----BEGIN ${label}-----[\\s\\S]+-----END ${label}-----\\s*$`), `a PEM ${label.toLowerCase()}`);

/** The hub's answer to simpleenroll and simplereenroll (JSON). */
export const enrolmentResultSchema = z.strictObject({
  v: z.literal(1),
  deviceId: deviceIdSchema,
  /** The device certificate, PEM, signed by the hub CA; CN = deviceId. */
  certificate: pemSchema('CERTIFICATE'),
  /** The hub CA certificate, PEM: the broker's and the enrolment endpoint's certificates chain to it. */
  caCertificate: pemSchema('CERTIFICATE'),
  /** The broker the kiosk syncs with (`mqtts://host:port`). */
  brokerUrl: z.string().max(300).regex(/^mqtts:\/\/[^\s/?#]+$/, 'mqtts://host[:port]'),
  /** The hub's public keys by role, PEM: they become the kiosk's installed trust anchors. */
  keys: z.strictObject({
    pass: z.array(pemSchema('PUBLIC KEY')).min(1).max(16),
    downlink: z.array(pemSchema('PUBLIC KEY')).min(1).max(16),
    /** Where the hub signs phone-bound passes: that key too, so the gate verifies them from its first start. */
    'phone-pass': z.array(pemSchema('PUBLIC KEY')).max(16).optional(),
  }),
  /** The device's settings document (see `deviceSettingsDocumentSchema`) as COSE_Sign1 by a downlink key, base64. */
  settings: z.string().max(256 * 1024).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64'),
});
export type EnrolmentResult = z.infer<typeof enrolmentResultSchema>;

/**
 * The settings the hub gives a device, as signed by a downlink key (artifact `device-settings`): a
 * partial kiosk settings object laid over the kiosk's own file. The kiosk validates the result with
 * the same schema as its file; it applies a document only for its own device id and only with a
 * higher version than the one it holds. `enrolment` documents come with the certificate; `remote`
 * ones come later (`safegate hub device set`) over the device's downlink.
 */
export const deviceSettingsDocumentSchema = z.strictObject({
  v: z.literal(1),
  deviceId: deviceIdSchema,
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  issuedAtMs: z.number().int().positive(),
  source: z.enum(['enrolment', 'remote']),
  /** A partial kiosk settings object (checked by the kiosk's settings schema after it is laid over the file). */
  settings: z.record(z.string(), z.unknown()),
});
export type DeviceSettingsDocument = z.infer<typeof deviceSettingsDocumentSchema>;

/**
 * Settings the hub may not set on a kiosk: its identity and credentials, where it keeps and reads its
 * own files and devices (every path), where it connects and sends data (the broker, whole, and the
 * console URL: a typo or a plain-text URL would cut the kiosk off or downgrade it), and regular
 * expressions run on every scan (a catastrophic pattern stalls the gate). Dotted paths; a document
 * that touches one (or anything under it) is refused as a whole, on the hub (`hub device set`) and on
 * the kiosk (every document, at acceptance and at every load). The broker's ca/cert/key come before
 * `hub.broker` so a refusal names the most specific one.
 */
export const HUB_FORBIDDEN_SETTINGS = [
  'device',
  'store',
  'enrolment',
  'hub.keysDir',
  'hub.broker.ca',
  'hub.broker.cert',
  'hub.broker.key',
  'hub.broker',
  'hub.consoleUrl',
  'policy.file',
  'gate.sysfsRoot',
  'scanner.path',
  'scanner.usb',
  'screens.supervisor.drivesFolder',
  'badge.pattern',
] as const;
