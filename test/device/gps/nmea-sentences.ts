/** NMEA 0183 sentences as a receiver sends them, for the GPS tests (checksums computed, CR LF ended). */

function checksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return sum.toString(16).toUpperCase().padStart(2, '0');
}

export function sentence(body: string): string {
  return `$${body}*${checksum(body)}\r\n`;
}

/** Degrees to NMEA's ddmm.mmmm (lat) / dddmm.mmmm (lon) with the hemisphere letter. */
function dm(deg: number, width: 2 | 3, pos: string, neg: string): [string, string] {
  const a = Math.abs(deg);
  const d = Math.floor(a);
  const m = (a - d) * 60;
  return [`${String(d).padStart(width, '0')}${m.toFixed(5).padStart(8, '0')}`, deg < 0 ? neg : pos];
}

function hhmmss(ms: number): { time: string; date: string } {
  const t = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return {
    time: `${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}.${String(Math.floor(t.getUTCMilliseconds() / 10)).padStart(2, '0')}`,
    date: `${p(t.getUTCDate())}${p(t.getUTCMonth() + 1)}${p(t.getUTCFullYear() % 100)}`,
  };
}

/** One fix cycle: RMC (status A, with date) and GGA (quality 1). */
export function fixCycle(lat: number, lon: number, utcMs: number): string {
  const { time, date } = hhmmss(utcMs);
  const [la, ns] = dm(lat, 2, 'N', 'S');
  const [lo, ew] = dm(lon, 3, 'E', 'W');
  return (
    sentence(`GPRMC,${time},A,${la},${ns},${lo},${ew},0.0,0.0,${date},,,A`) +
    sentence(`GPGGA,${time},${la},${ns},${lo},${ew},1,08,1.0,10.0,M,0.0,M,,`)
  );
}

/** One cycle of a receiver without a fix: RMC status V, GGA quality 0 (time known, no position). */
export function noFixCycle(utcMs: number): string {
  const { time, date } = hhmmss(utcMs);
  return sentence(`GPRMC,${time},V,,,,,,,${date},,,N`) + sentence(`GPGGA,${time},,,,,0,00,99.9,,,,,,`);
}

/** A fix cycle whose checksums are wrong (the position must never be believed). */
export function badChecksumCycle(lat: number, lon: number, utcMs: number): string {
  return fixCycle(lat, lon, utcMs).replace(/\*([0-9A-F]{2})\r\n/g, (_m, cs: string) => `*${((parseInt(cs, 16) + 1) & 0xff).toString(16).toUpperCase().padStart(2, '0')}\r\n`);
}
