import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { X509Certificate, createHash } from 'node:crypto';
import {
  EST_PATHS,
  enrolmentRefusalSchema,
  enrolmentResultSchema,
  type EnrolmentRefusal,
  type EnrolmentResult,
} from '../../../base/common/enrolment.js';

/**
 * The kiosk's side of the EST-like exchange (RFC 7030 "bootstrap"), over node:https:
 * 1. cacerts over TLS WITHOUT verification, accepted only when a certificate in it has the
 *    fingerprint the enrolment code carries (else CA_MISMATCH: the kiosk's own reason);
 * 2. simpleenroll / simplereenroll over TLS verified against THAT CA and the URL's host name.
 * Every request is bounded: a deadline for the whole exchange and a largest answer.
 */

export type EstFailureReason = EnrolmentRefusal | 'CA_MISMATCH' | 'NETWORK' | 'BAD_ANSWER';
export type EstFailure = { ok: false; reason: EstFailureReason; message: string };

/** The largest answer read (the result JSON carries a settings document of at most 256 KiB in base64). */
export const MAX_ANSWER_BYTES = 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 15_000;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface TlsOptions {
  /** The pinned CA (PEM); absent: no verification (cacerts only). */
  ca?: string;
  /** Client certificate and key (PEM), for simplereenroll. */
  cert?: string;
  key?: string;
}

function send(
  hubUrl: string,
  path: string,
  o: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; tls: TlsOptions; timeoutMs: number },
): Promise<Answer | EstFailure> {
  const url = new URL(path, hubUrl);
  return new Promise((resolvePromise) => {
    let settled = false;
    const settle = (v: Answer | EstFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolvePromise(v);
    };
    const req = request(
      url,
      {
        method: o.method,
        headers: { ...(o.headers ?? {}), ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}) },
        // Verification: against the pinned CA only (never the system's), host name included.
        rejectUnauthorized: o.tls.ca !== undefined,
        ...(o.tls.ca !== undefined ? { ca: o.tls.ca } : {}),
        ...(o.tls.cert !== undefined ? { cert: o.tls.cert, key: o.tls.key } : {}),
        // A fresh TLS session per request: a connection made without verification is never reused.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            settle({ ok: false, reason: 'BAD_ANSWER', message: `the hub's answer is larger than ${MAX_ANSWER_BYTES} bytes` });
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => settle({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => settle(networkFailure(err, url)));
      },
    );
    const deadline = setTimeout(() => {
      settle({ ok: false, reason: 'NETWORK', message: `the hub at ${url.origin} did not answer within ${Math.round(o.timeoutMs / 1000)} s` });
      req.destroy();
    }, o.timeoutMs);
    req.on('error', (err) => settle(networkFailure(err, url)));
    req.end(o.body);
  });
}

function networkFailure(err: Error, url: URL): EstFailure {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return { ok: false, reason: 'NETWORK', message: `the hub's TLS certificate does not name ${url.hostname}` };
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
    return { ok: false, reason: 'CA_MISMATCH', message: `the hub's TLS certificate is not from the CA in the enrolment code (${code})` };
  }
  return { ok: false, reason: 'NETWORK', message: `cannot reach the hub at ${url.origin} (${code || err.message})` };
}

function isFailure(v: Answer | EstFailure): v is EstFailure {
  return 'ok' in v;
}

/** The PEM certificates in a text, in order. */
function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * Step 1: the hub CA, accepted only when its SHA-256 (of the DER) is the code's fingerprint. The
 * TLS connection is not verified (the kiosk has no CA yet): the fingerprint is what makes it safe.
 */
export async function fetchPinnedCa(hubUrl: string, caFingerprint: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ ok: true; caPem: string } | EstFailure> {
  const answer = await send(hubUrl, EST_PATHS.cacerts, { method: 'GET', tls: {}, timeoutMs });
  if (isFailure(answer)) return answer;
  if (answer.status !== 200) return refusalOf(answer);
  const certs = pemCertificates(answer.body.toString('utf8'));
  if (certs.length === 0) return { ok: false, reason: 'BAD_ANSWER', message: 'the hub sent no CA certificate' };
  for (const pem of certs) {
    let der: Buffer;
    try {
      der = new X509Certificate(pem).raw;
    } catch {
      continue;
    }
    if (createHash('sha256').update(der).digest('hex') === caFingerprint) return { ok: true, caPem: `${pem}\n` };
  }
  return { ok: false, reason: 'CA_MISMATCH', message: "the hub's CA is not the one in the enrolment code (fingerprints differ): this may not be your hub" };
}

/**
 * Step 2 (or renewal): a certificate request, over TLS verified against the pinned CA. Enrolment
 * carries the token as `Authorization: Bearer`; renewal presents the current certificate instead.
 */
export async function requestCertificate(
  hubUrl: string,
  csrPem: string,
  o: { caPem: string; timeoutMs?: number } & ({ token: string } | { clientCertPem: string; clientKeyPem: string }),
): Promise<{ ok: true; result: EnrolmentResult } | EstFailure> {
  const renewal = 'clientCertPem' in o;
  const answer = await send(hubUrl, renewal ? EST_PATHS.simplereenroll : EST_PATHS.simpleenroll, {
    method: 'POST',
    headers: { 'content-type': 'application/pkcs10', accept: 'application/json', ...(renewal ? {} : { authorization: `Bearer ${o.token}` }) },
    body: csrPem,
    tls: { ca: o.caPem, ...(renewal ? { cert: o.clientCertPem, key: o.clientKeyPem } : {}) },
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  if (isFailure(answer)) return answer;
  if (answer.status !== 200) return refusalOf(answer);
  let json: unknown;
  try {
    json = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'BAD_ANSWER', message: 'the hub answered with something that is not JSON' };
  }
  const parsed = enrolmentResultSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, reason: 'BAD_ANSWER', message: `the hub's answer is not an enrolment result (${first ? `${first.path.map(String).join('.') || 'answer'}: ${first.message}` : 'invalid'})` };
  }
  return { ok: true, result: parsed.data };
}

function refusalOf(answer: Answer): EstFailure {
  let json: unknown;
  try {
    json = JSON.parse(answer.body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const parsed = enrolmentRefusalSchema.safeParse(json);
  if (parsed.success) return { ok: false, reason: parsed.data.error.code, message: parsed.data.error.message };
  return { ok: false, reason: 'BAD_ANSWER', message: `the hub answered HTTP ${answer.status} without a reason` };
}
