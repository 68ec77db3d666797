import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readNmeaSentence } from '../../../device/gps/nmea.js';
import { badChecksumCycle, fixCycle, noFixCycle, sentence } from './nmea-sentences.js';

const lines = (text: string) => text.split('\r\n').filter((l) => l.length > 0);
const UTC = Date.UTC(2027, 5, 15, 8, 30, 15);

describe('readNmeaSentence', () => {
  it('RMC status A: a fix with the position (6 decimals) and its UTC date and time; GGA quality 1: a fix without time', () => {
    const [rmc, gga] = lines(fixCycle(-33.856784, 151.215297, UTC));
    expect(readNmeaSentence(rmc!)).toEqual({ kind: 'fix', position: { lat: -33.856784, lon: 151.215297 }, utcMs: UTC });
    expect(readNmeaSentence(gga!)).toEqual({ kind: 'fix', position: { lat: -33.856784, lon: 151.215297 }, utcMs: null });
  });

  it('RMC status V and GGA quality 0 are "no fix"', () => {
    for (const l of lines(noFixCycle(UTC))) expect(readNmeaSentence(l)).toEqual({ kind: 'no-fix' });
  });

  it('an RMC without a date gives no time (GPS.js would take the date from the system clock)', () => {
    expect(readNmeaSentence(sentence('GPRMC,083015.00,A,1049.12340,N,10641.56780,E,0.0,0.0,,,,A').trimEnd())).toEqual({
      kind: 'fix',
      position: { lat: 10.818723, lon: 106.692797 },
      utcMs: null,
    });
  });

  it('a date before 2024 (a receiver hit by the GPS week rollover) gives no time, the position still counts', () => {
    const r = readNmeaSentence(sentence('GPRMC,083015.00,A,1049.12340,N,10641.56780,E,0.0,0.0,150607,,,A').trimEnd());
    expect(r).toMatchObject({ kind: 'fix', utcMs: null });
  });

  it('a date from 2044 on (an RMC date of 311249: a broken or spoofed receiver) gives no time, the position still counts', () => {
    const r = readNmeaSentence(sentence('GPRMC,083015.00,A,1049.12340,N,10641.56780,E,0.0,0.0,311249,,,A').trimEnd());
    expect(r).toMatchObject({ kind: 'fix', position: { lat: 10.818723, lon: 106.692797 }, utcMs: null });
  });

  it('refuses bad checksums, lines that are not NMEA and malformed RMC; ignores other valid sentences', () => {
    for (const l of lines(badChecksumCycle(10, 106, UTC))) expect(readNmeaSentence(l)).toMatchObject({ kind: 'refused', rejected: { reason: 'bad-checksum' } });
    expect(readNmeaSentence('hello')).toMatchObject({ kind: 'refused', rejected: { reason: 'not-nmea' } });
    expect(readNmeaSentence('$GPRMC,1,2')).toMatchObject({ kind: 'refused', rejected: { reason: 'not-nmea' } });
    expect(readNmeaSentence(sentence('GPRMC,1,2').trimEnd())).toMatchObject({ kind: 'refused', rejected: { reason: 'malformed' } });
    expect(readNmeaSentence(sentence('GPRMC,083015.00,A,95x9.1234,N,10641.5678,E,0.0,0.0,150627,,,A').trimEnd())).toMatchObject({ kind: 'refused' });
    expect(readNmeaSentence(sentence('GPGSV,1,1,00').trimEnd())).toEqual({ kind: 'ignored' });
    expect(readNmeaSentence(sentence('PUBX,00,foo').trimEnd())).toEqual({ kind: 'ignored' });
  });

  it('any line is read or refused, never thrown, and a fix is always a position in range', () => {
    const nmeaish = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.array(fc.oneof(fc.constantFrom('GPRMC', 'GNGGA', 'A', 'V', 'N', 'S', 'E', 'W', ''), fc.stringMatching(/^[0-9.]{0,12}$/)), { maxLength: 16 }).map((f) => sentence(f.join(',')).trimEnd()),
    );
    fc.assert(
      fc.property(nmeaish, (line) => {
        const r = readNmeaSentence(line);
        if (r.kind === 'fix') {
          expect(Math.abs(r.position.lat)).toBeLessThanOrEqual(90);
          expect(Math.abs(r.position.lon)).toBeLessThanOrEqual(180);
          if (r.utcMs !== null) expect(Number.isFinite(r.utcMs)).toBe(true);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
