import { describe, expect, it } from 'vitest';
import { DEVICE_ID_PATTERN, HUB_ID_PATTERN, IDENTIFIER_PATTERN, PASS_ID_PATTERN } from '../../../base/common/ids.js';

describe('identifiers, one rule each', () => {
  it('device ids: lower-case, digits, dashes; never a hub name, never "hub"', () => {
    for (const ok of ['kiosk-hcm-0001', 'ab', 'a'.repeat(63), 'hub-1', 'hubx']) expect(DEVICE_ID_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['hub', 'hub.1', 'A1', '-ab', 'a', 'a'.repeat(64), 'kiosk_1', 'kiosk/1', 'kiosk+']) expect(DEVICE_ID_PATTERN.test(bad), bad).toBe(false);
  });

  it('hub ids are outside the device ids', () => {
    for (const id of ['hub.1', 'hub.2', 'hub.north-1']) {
      expect(HUB_ID_PATTERN.test(id), id).toBe(true);
      expect(DEVICE_ID_PATTERN.test(id), id).toBe(false);
    }
    for (const bad of ['hub', 'hub-1', 'hub.', 'hub.A', 'kiosk.1']) expect(HUB_ID_PATTERN.test(bad), bad).toBe(false);
  });

  it('worker, checkpoint, zone and notice ids: 1 to 64 of letters, digits, dot, underscore, dash', () => {
    for (const ok of ['W0001', 'a', 'cty_A.tổ'.replace('ổ', 'o'), 'x'.repeat(64), 'NV-2026.01']) expect(IDENTIFIER_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['', 'x'.repeat(65), 'W 1', 'Tổ1', 'a/b', 'a\n']) expect(IDENTIFIER_PATTERN.test(bad), bad).toBe(false);
  });

  it('pass ids are 16 lower-case hex digits', () => {
    expect(PASS_ID_PATTERN.test('0123456789abcdef')).toBe(true);
    for (const bad of ['0123456789ABCDEF', '0123', '0123456789abcdef0']) expect(PASS_ID_PATTERN.test(bad), bad).toBe(false);
  });
});
