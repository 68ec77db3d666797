import GPS from 'gps';
import { geoPoint, plausibleUtcMs, type GpsRejected } from './report.js';
import type { GeoPoint } from '../../base/common/types.js';

/**
 * What one NMEA 0183 sentence says about the fix, read with GPS.js (the `gps` package) after this
 * module has checked the frame and checksum itself (GPS.js runs its field parsers before comparing
 * the checksum). RMC and GGA decide: RMC status A with a position is a fix and, with its date, a
 * UTC time; status V is no fix. GGA quality 1-6 with a position is a fix (no date: no time); quality
 * 0 is no fix. Other valid sentences (GSV, GSA, VTG, proprietary ones) are ignored.
 */
export type NmeaReading =
  | { kind: 'fix'; position: GeoPoint; utcMs: number | null }
  | { kind: 'no-fix' }
  | { kind: 'ignored' }
  | { kind: 'refused'; rejected: GpsRejected };

/** NMEA 0183 allows 82 characters with the CR LF; some receivers go a little over. */
export const NMEA_MAX_LINE = 120;

const FRAME = /^\$([\x20-\x29\x2b-\x7e]+)\*([0-9A-Fa-f]{2})$/;
const RMC_TIME = /^\d{6}(\.\d{1,6})?$/;
const RMC_DATE = /^\d{6}$/;

function refused(reason: GpsRejected['reason'], line: string): NmeaReading {
  return { kind: 'refused', rejected: { reason, detail: line.slice(0, 24) } };
}

export function readNmeaSentence(line: string): NmeaReading {
  const frame = FRAME.exec(line);
  if (!frame) return refused('not-nmea', line);
  const body = frame[1] ?? '';
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  if (sum !== parseInt(frame[2] ?? '', 16)) return refused('bad-checksum', line);

  let sentence: ReturnType<typeof GPS.Parse>;
  try {
    sentence = GPS.Parse(line);
  } catch {
    // GPS.js throws for a sentence type it knows with the wrong number of fields.
    return refused('malformed', line);
  }
  if (sentence === false) return { kind: 'ignored' };
  if (sentence.type === 'RMC') {
    if (sentence.status === 'void') return { kind: 'no-fix' };
    if (sentence.status !== 'active') return refused('malformed', line);
    const position = geoPoint(sentence.lat, sentence.lon);
    if (!position) return refused('malformed', line);
    // GPS.js fills a missing date from the system clock, which is exactly what a bus without RTC lacks.
    const fields = body.split(',');
    const timed = RMC_TIME.test(fields[1] ?? '') && RMC_DATE.test(fields[9] ?? '');
    return { kind: 'fix', position, utcMs: timed ? plausibleUtcMs(sentence.time?.getTime()) : null };
  }
  if (sentence.type === 'GGA') {
    if (sentence.quality === null) return { kind: 'no-fix' };
    if (sentence.quality === 'manual' || sentence.quality === 'simulated') return { kind: 'no-fix' };
    const position = geoPoint(sentence.lat, sentence.lon);
    if (!position) return refused('malformed', line);
    return { kind: 'fix', position, utcMs: null };
  }
  return { kind: 'ignored' };
}
