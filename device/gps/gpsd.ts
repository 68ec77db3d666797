import { z } from 'zod';
import { geoPoint, plausibleUtcMs, type GpsRejected } from './report.js';
import type { GeoPoint } from '../../base/common/types.js';

/**
 * gpsd's JSON protocol (https://gpsd.gitlab.io/gpsd/gpsd_json.html), the part a bus unit needs: each
 * line from gpsd is one JSON object with a `class`; TPV says the fix (mode 0/1 none, 2 = 2D, 3 = 3D),
 * DEVICES/DEVICE which receivers gpsd has open (`activated` is set while one is). Every report is
 * checked here; one that does not fit is refused, never trusted.
 */

/** gpsd's longest reports (SKY with many satellites) are a few KB; anything far beyond is not gpsd. */
export const GPSD_MAX_LINE = 64 * 1024;

/** Sent on connect, and again to wake gpsd when it has no receiver open (a WATCH makes it reopen its devices). */
export const GPSD_WATCH = '?WATCH={"enable":true,"json":true};\n';
export const GPSD_DEVICES = '?DEVICES;\n';

const devicePath = z.string().min(1).max(1_024);
/** `activated`: an ISO time while the device is open; 0 or absent when it is not (protocol 3.x). */
const deviceSchema = z.looseObject({
  class: z.literal('DEVICE'),
  path: devicePath,
  activated: z.union([z.string(), z.number()]).optional(),
});
const reportSchema = z.discriminatedUnion('class', [
  z.looseObject({
    class: z.literal('TPV'),
    device: devicePath.optional(),
    mode: z.number().int().min(0).max(3),
    // ISO 8601 since protocol 3.10; older gpsd sent epoch seconds, not trusted as a clock here.
    time: z.union([z.string().max(64), z.number()]).optional(),
    lat: z.number().optional(),
    lon: z.number().optional(),
  }),
  z.looseObject({ class: z.literal('DEVICES'), devices: z.array(deviceSchema).max(64) }),
  deviceSchema,
  z.looseObject({ class: z.literal('ERROR'), message: z.string().max(1_024).optional() }),
]);

const GPSD_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export type GpsdMessage =
  | { kind: 'fix'; device: string | undefined; position: GeoPoint; utcMs: number | null }
  | { kind: 'no-fix'; device: string | undefined }
  /** The devices gpsd reports with whether each is open: the whole list (DEVICES) or one change (DEVICE). */
  | { kind: 'devices'; devices: { path: string; active: boolean }[]; whole: boolean }
  | { kind: 'error'; message: string }
  | { kind: 'ignored' }
  | { kind: 'refused'; rejected: GpsRejected };

function isActive(d: { activated?: string | number | undefined }): boolean {
  return typeof d.activated === 'string' ? d.activated.length > 0 : typeof d.activated === 'number' && d.activated > 0;
}

export function readGpsdLine(line: string): GpsdMessage {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { kind: 'refused', rejected: { reason: 'not-json', detail: line.slice(0, 24) } };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof (json as { class?: unknown }).class !== 'string') {
    return { kind: 'refused', rejected: { reason: 'bad-report', detail: 'not an object with a class' } };
  }
  const klass = (json as { class: string }).class;
  if (!['TPV', 'DEVICES', 'DEVICE', 'ERROR'].includes(klass)) return { kind: 'ignored' };
  const parsed = reportSchema.safeParse(json);
  if (!parsed.success) return { kind: 'refused', rejected: { reason: 'bad-report', detail: `${klass}: ${parsed.error.issues[0]?.message ?? 'invalid'}` } };
  const r = parsed.data;
  switch (r.class) {
    case 'TPV': {
      if (r.mode < 2) return { kind: 'no-fix', device: r.device };
      const position = geoPoint(r.lat, r.lon);
      if (!position) return { kind: 'refused', rejected: { reason: 'bad-report', detail: 'TPV: a fix without a valid position' } };
      const utcMs = typeof r.time === 'string' && GPSD_TIME.test(r.time) ? plausibleUtcMs(Date.parse(r.time)) : null;
      return { kind: 'fix', device: r.device, position, utcMs };
    }
    case 'DEVICES':
      return { kind: 'devices', whole: true, devices: r.devices.map((d) => ({ path: d.path, active: isActive(d) })) };
    case 'DEVICE':
      return { kind: 'devices', whole: false, devices: [{ path: r.path, active: isActive(r) }] };
    case 'ERROR':
      return { kind: 'error', message: (r.message ?? '').slice(0, 200) };
  }
}
