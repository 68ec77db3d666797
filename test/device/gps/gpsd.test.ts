import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readGpsdLine } from '../../../device/gps/gpsd.js';

describe('readGpsdLine', () => {
  it('TPV mode 2/3: a fix with its position (6 decimals) and time; mode 0/1: no fix', () => {
    expect(readGpsdLine('{"class":"TPV","device":"/dev/ttyACM0","mode":3,"time":"2027-06-15T08:30:15.000Z","lat":10.818723333,"lon":106.692796667,"alt":10}')).toEqual({
      kind: 'fix',
      device: '/dev/ttyACM0',
      position: { lat: 10.818723, lon: 106.692797 },
      utcMs: Date.UTC(2027, 5, 15, 8, 30, 15),
    });
    expect(readGpsdLine('{"class":"TPV","mode":2,"lat":1,"lon":2}')).toEqual({ kind: 'fix', device: undefined, position: { lat: 1, lon: 2 }, utcMs: null });
    expect(readGpsdLine('{"class":"TPV","device":"/dev/gps0","mode":1,"time":"2027-06-15T08:30:15.000Z"}')).toEqual({ kind: 'no-fix', device: '/dev/gps0' });
    expect(readGpsdLine('{"class":"TPV","mode":0}')).toEqual({ kind: 'no-fix', device: undefined });
  });

  it('DEVICES and DEVICE say which receivers gpsd has open', () => {
    expect(readGpsdLine('{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/a","activated":"2027-06-15T08:30:15.000Z"},{"class":"DEVICE","path":"/dev/b"}]}')).toEqual({
      kind: 'devices',
      whole: true,
      devices: [
        { path: '/dev/a', active: true },
        { path: '/dev/b', active: false },
      ],
    });
    expect(readGpsdLine('{"class":"DEVICE","path":"/dev/a","activated":0}')).toEqual({ kind: 'devices', whole: false, devices: [{ path: '/dev/a', active: false }] });
  });

  it('refuses what is not JSON or does not fit; ignores the classes it does not need', () => {
    expect(readGpsdLine('{"class":"TPV"')).toMatchObject({ kind: 'refused', rejected: { reason: 'not-json' } });
    expect(readGpsdLine('[]')).toMatchObject({ kind: 'refused', rejected: { reason: 'bad-report' } });
    expect(readGpsdLine('{"class":"TPV","mode":"3"}')).toMatchObject({ kind: 'refused', rejected: { reason: 'bad-report' } });
    expect(readGpsdLine('{"class":"TPV","mode":3,"lat":91,"lon":0}')).toMatchObject({ kind: 'refused', rejected: { reason: 'bad-report' } });
    expect(readGpsdLine('{"class":"TPV","mode":3}')).toMatchObject({ kind: 'refused', rejected: { reason: 'bad-report' } });
    expect(readGpsdLine('{"class":"SKY","satellites":[]}')).toEqual({ kind: 'ignored' });
    // A time that is not gpsd's ISO form (an old gpsd's epoch seconds, text) gives no time; the position still counts.
    expect(readGpsdLine('{"class":"TPV","mode":3,"lat":1,"lon":2,"time":1781512215}')).toMatchObject({ kind: 'fix', utcMs: null });
    // A time from 2044 on (a broken or spoofed receiver) gives no time either.
    expect(readGpsdLine('{"class":"TPV","mode":3,"lat":1,"lon":2,"time":"2099-12-31T08:30:15.000Z"}')).toMatchObject({ kind: 'fix', utcMs: null });
    expect(readGpsdLine('{"class":"TPV","mode":3,"lat":1,"lon":2,"time":"yesterday"}')).toMatchObject({ kind: 'fix', utcMs: null });
  });

  it('any line or JSON value is read or refused, never thrown', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({ class: fc.constantFrom('TPV', 'DEVICES', 'DEVICE', 'ERROR'), mode: fc.anything(), lat: fc.anything(), lon: fc.anything(), time: fc.anything(), devices: fc.anything(), path: fc.anything() }, { requiredKeys: ['class'] })
        .map((v) => JSON.stringify(v) ?? ''),
    );
    fc.assert(
      fc.property(line, (l) => {
        const r = readGpsdLine(l);
        expect(['fix', 'no-fix', 'devices', 'error', 'ignored', 'refused']).toContain(r.kind);
      }),
      { numRuns: 2_000 },
    );
  });
});
