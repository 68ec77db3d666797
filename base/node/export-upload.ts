import { createHash, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { deviceIdSchema, identifierSchema } from '../common/ids.js';

/**
 * A supervisor's entry-log export sent from a kiosk to the hub's console server (POST
 * EXPORT_UPLOAD_PATH, the file as the body). The kiosk signs it with the private key of its MQTT
 * client certificate, the one the province CA issued it for the broker: the signature covers the
 * device id, the export's description (id, file name, rows, who), the body's SHA-256 and the time
 * it was sent, and the certificate travels with it, so the hub checks that the province CA issued
 * it to this device id, that it signed exactly these bytes, and that the request is fresh.
 */
export const EXPORT_UPLOAD_PATH = '/api/device/exports';

/** The biggest export the hub takes: a month of a busy gate (120,000 passages) measured 5.7 MB as XLSX and 12 MB as CSV. */
export const EXPORT_MAX_BYTES = 32 * 1024 * 1024;

/** How far the kiosk's clock may be from the hub's when it sends. */
export const EXPORT_MAX_SKEW_MS = 10 * 60_000;

export const EXPORT_HEADERS = {
  device: 'x-safegate-device',
  export: 'x-safegate-export',
  time: 'x-safegate-time',
  certificate: 'x-safegate-certificate',
  signature: 'x-safegate-signature',
} as const;

export const EXPORT_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** What the kiosk says about the file (the x-safegate-export header: base64url of this JSON). */
export const exportDescriptionSchema = z.strictObject({
  exportId: z.string().regex(EXPORT_ID_PATTERN, '16 to 64 characters: letters, digits, _ and -'),
  fileName: z.string().regex(/^[A-Za-z0-9._-]{1,100}\.(csv|xlsx)$/, 'a plain file name ending .csv or .xlsx'),
  format: z.enum(['csv', 'xlsx']),
  rows: z.number().int().min(0).max(10_000_000),
  supervisorId: identifierSchema,
  supervisorName: z.string().min(1).max(100),
  madeMs: z.number().int().min(0),
});
export type ExportDescription = z.infer<typeof exportDescriptionSchema>;

/** The exact text the device signs (and the hub verifies). */
export function exportSignedText(deviceId: string, description: string, sha256Hex: string, timeMs: number): Buffer {
  return Buffer.from(['safegate-export/1', deviceId, description, sha256Hex, String(timeMs)].join('\n'), 'utf8');
}

export function sha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The headers of a signed upload, with the device's certificate and private key (PEM). */
export function signExportUpload(o: { deviceId: string; description: ExportDescription; body: Uint8Array; certPem: string | Buffer; keyPem: string | Buffer; nowMs: number }): Record<string, string> {
  deviceIdSchema.parse(o.deviceId);
  const description = Buffer.from(JSON.stringify(exportDescriptionSchema.parse(o.description)), 'utf8').toString('base64url');
  const cert = new X509Certificate(o.certPem);
  const signature = sign('sha256', exportSignedText(o.deviceId, description, sha256Hex(o.body), o.nowMs), createPrivateKey(o.keyPem));
  return {
    'content-type': 'application/octet-stream',
    [EXPORT_HEADERS.device]: o.deviceId,
    [EXPORT_HEADERS.export]: description,
    [EXPORT_HEADERS.time]: String(o.nowMs),
    [EXPORT_HEADERS.certificate]: cert.raw.toString('base64'),
    [EXPORT_HEADERS.signature]: signature.toString('base64'),
  };
}
