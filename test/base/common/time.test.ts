import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TIME_ZONE, dayKeyIn, dayRangeIn, isTimeZone, localTimeIn, parseInstant, startOfDayIn, timeOfDayIn } from '../../../base/common/time.js';

const VN = DEFAULT_TIME_ZONE;
const machineZone = process.env.TZ;

describe('province time', () => {
  afterEach(() => {
    if (machineZone === undefined) delete process.env.TZ;
    else process.env.TZ = machineZone;
  });

  it('takes day boundaries in the province zone whatever zone the machine is in', () => {
    // 23:30 UTC on the 26th is 06:30 on the 27th in Vietnam.
    const at = Date.parse('2026-11-26T23:30:00Z');
    for (const machine of ['UTC', 'America/New_York', 'Asia/Tokyo', 'Pacific/Kiritimati']) {
      process.env.TZ = machine;
      expect(startOfDayIn(at, VN)).toBe(Date.parse('2026-11-26T17:00:00Z'));
      expect(dayRangeIn(at, VN)).toEqual({ fromMs: Date.parse('2026-11-26T17:00:00Z'), toMs: Date.parse('2026-11-27T17:00:00Z') });
      expect(dayKeyIn(at, VN)).toBe('2026-11-27');
      expect(localTimeIn(at, VN)).toBe('2026-11-27 06:30:00');
    }
  });

  it('finds a deadline such as 15:00 on the province day', () => {
    const morning = Date.parse('2026-11-27T01:00:00Z'); // 08:00 in Vietnam
    expect(timeOfDayIn(morning, '15:00', VN)).toBe(Date.parse('2026-11-27T08:00:00Z'));
    expect(() => timeOfDayIn(morning, '25:00', VN)).toThrow(/HH:MM/);
  });

  it('reads ISO 8601 with one rule: plain dates and times without an offset are province time', () => {
    expect(parseInstant('2026-11-27', VN)).toBe(Date.parse('2026-11-26T17:00:00Z'));
    expect(parseInstant('2026-11-27T08:15', VN)).toBe(Date.parse('2026-11-27T01:15:00Z'));
    expect(parseInstant('2026-11-27 08:15:30.5', VN)).toBe(Date.parse('2026-11-27T01:15:30.500Z'));
    expect(parseInstant('2026-11-27T08:15:00Z', VN)).toBe(Date.parse('2026-11-27T08:15:00Z'));
    expect(parseInstant('2026-11-27T08:15:00+07:00', VN)).toBe(Date.parse('2026-11-27T01:15:00Z'));
    expect(parseInstant('2026-11-27T08:15:00-0330', VN)).toBe(Date.parse('2026-11-27T11:45:00Z'));
    expect(parseInstant('  2026-11-27  ', 'UTC')).toBe(Date.parse('2026-11-27T00:00:00Z'));
  });

  it.each(['tomorrow', '2026-02-30', '2026-13-01', '2026-11-27T24:00', '2026-11-27T08:60', '27/11/2026', '2026-11-27T08:00+15:00', ''])(
    'refuses %j with a reason',
    (text) => {
      const r = parseInstant(text, VN);
      expect(r).toBeInstanceOf(RangeError);
      expect((r as Error).message).toMatch(/ISO 8601|not a real/);
    },
  );

  it('knows a time zone name from a typo', () => {
    expect(isTimeZone('Asia/Ho_Chi_Minh')).toBe(true);
    expect(isTimeZone('Asia/Saigon')).toBe(true);
    expect(isTimeZone('Asia/Hanoi-City')).toBe(false);
  });
});

describe('province time, written out', () => {
  it('writes dates and times in the zone, midnight as 00 and the year in four digits', async () => {
    const { dateTimeInputIn } = await import('../../../base/common/time.js');
    expect(localTimeIn(Date.parse('2026-11-26T17:00:00Z'), VN)).toBe('2026-11-27 00:00:00');
    expect(dateTimeInputIn(Date.parse('2026-12-31T16:59:00Z'), VN)).toBe('2026-12-31T23:59');
    expect(dayKeyIn(Date.parse('2026-12-31T17:00:00Z'), VN)).toBe('2027-01-01');
  });
});
