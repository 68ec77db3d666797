import { describe, expect, it } from 'vitest';
import { formatLogTime } from '../../../src-main/cli/log-format.js';

describe('safegate log times', () => {
  const at = Date.UTC(2026, 10, 27, 7, 3, 5, 999);

  it('shows the province wall clock with its offset, and UTC on request', () => {
    expect(formatLogTime(at, { zone: 'Asia/Ho_Chi_Minh' })).toBe('2026-11-27 14:03:05 +07');
    expect(formatLogTime(at, 'utc')).toBe('2026-11-27 07:03:05 UTC');
  });

  it('writes offsets with minutes and offsets behind UTC, across a day boundary and daylight saving', () => {
    expect(formatLogTime(at, { zone: 'Asia/Kolkata' })).toBe('2026-11-27 12:33:05 +05:30');
    expect(formatLogTime(at, { zone: 'America/New_York' })).toBe('2026-11-27 02:03:05 -05');
    expect(formatLogTime(Date.UTC(2026, 6, 1, 2, 0, 0), { zone: 'America/New_York' })).toBe('2026-06-30 22:00:00 -04');
    expect(formatLogTime(at, { zone: 'UTC' })).toBe('2026-11-27 07:03:05 +00');
  });
});
