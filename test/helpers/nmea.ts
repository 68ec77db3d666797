/**
 * NMEA 0183 sentences as a GPS receiver writes them, for tests that feed a real NMEA receiver (a socat
 * pty) or a parser: RMC and GGA with correct checksums, CR LF ended. Positions are written with six
 * decimals of minutes (about 2 mm), so a position read back and rounded to micro-degrees equals the one
 * given here (rounded to micro-degrees).
 */

/** The NMEA checksum: XOR of every character between `$` and `*`, two upper-case hex digits. */
export function nmeaChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return sum.toString(16).toUpperCase().padStart(2, '0');
}

/** A whole sentence from its body (what lies between `$` and `*`). */
export function nmeaSentence(body: string): string {
  return `$${body}*${nmeaChecksum(body)}\r\n`;
}

/** Degrees to NMEA's ddmm.mmmmmm (latitude, width 2) or dddmm.mmmmmm (longitude, width 3) and hemisphere. */
export function nmeaDegrees(deg: number, width: 2 | 3, pos: 'N' | 'E', neg: 'S' | 'W'): [string, string] {
  if (!Number.isFinite(deg)) throw new RangeError(`not a coordinate: ${deg}`);
  const a = Math.abs(deg);
  let d = Math.floor(a);
  let m = Number(((a - d) * 60).toFixed(6));
  if (m >= 60) {
    d += 1;
    m -= 60;
  }
  return [`${String(d).padStart(width, '0')}${m.toFixed(6).padStart(9, '0')}`, deg < 0 ? neg : pos];
}

/** UTC time hhmmss.ss and date ddmmyy of a wall time. */
export function nmeaTime(utcMs: number): { time: string; date: string } {
  const t = new Date(utcMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return {
    time: `${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}.${p(Math.floor(t.getUTCMilliseconds() / 10))}`,
    date: `${p(t.getUTCDate())}${p(t.getUTCMonth() + 1)}${p(t.getUTCFullYear() % 100)}`,
  };
}

export interface NmeaFix {
  lat: number;
  lon: number;
  utcMs: number;
  /** Talker id: 'GP' (GPS) unless told ('GN' multi-constellation receivers are common). */
  talker?: string;
}

/** RMC with status A (valid fix), speed and course 0, date. */
export function rmcFix(f: NmeaFix): string {
  const { time, date } = nmeaTime(f.utcMs);
  const [la, ns] = nmeaDegrees(f.lat, 2, 'N', 'S');
  const [lo, ew] = nmeaDegrees(f.lon, 3, 'E', 'W');
  return nmeaSentence(`${f.talker ?? 'GP'}RMC,${time},A,${la},${ns},${lo},${ew},0.0,0.0,${date},,,A`);
}

/** GGA with fix quality 1 (GPS), 8 satellites. */
export function ggaFix(f: NmeaFix): string {
  const { time } = nmeaTime(f.utcMs);
  const [la, ns] = nmeaDegrees(f.lat, 2, 'N', 'S');
  const [lo, ew] = nmeaDegrees(f.lon, 3, 'E', 'W');
  return nmeaSentence(`${f.talker ?? 'GP'}GGA,${time},${la},${ns},${lo},${ew},1,08,1.0,10.0,M,0.0,M,,`);
}

/** RMC with status V (no fix): the receiver's time and date, no position. */
export function rmcNoFix(utcMs: number, talker = 'GP'): string {
  const { time, date } = nmeaTime(utcMs);
  return nmeaSentence(`${talker}RMC,${time},V,,,,,,,${date},,,N`);
}

/** GGA with fix quality 0 (no fix). */
export function ggaNoFix(utcMs: number, talker = 'GP'): string {
  const { time } = nmeaTime(utcMs);
  return nmeaSentence(`${talker}GGA,${time},,,,,0,00,99.9,,,,,,`);
}

/** One second of a receiver with a fix: RMC then GGA. */
export function fixCycle(f: NmeaFix): string {
  return rmcFix(f) + ggaFix(f);
}

/** One second of a receiver without a fix: RMC status V then GGA quality 0. */
export function noFixCycle(utcMs: number, talker = 'GP'): string {
  return rmcNoFix(utcMs, talker) + ggaNoFix(utcMs, talker);
}
