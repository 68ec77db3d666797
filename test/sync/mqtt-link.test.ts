import { describe, expect, it } from 'vitest';
import { classifyLinkError, classifySubscriptionError } from '../../sync/mqtt-link.js';

/** Which faults wait for a person (auth) and which only for the network to come back. */
describe('MQTT link fault classes', () => {
  const withCode = (code: number, message = 'x') => Object.assign(new Error(message), { code });

  it('a refused identity or topic waits for a person', () => {
    for (const code of [4, 5, 0x86, 0x87, 0x8a, 0x8c]) expect(classifyLinkError(withCode(code))).toBe('auth');
    expect(classifyLinkError(new Error('Connection refused: Not authorized'))).toBe('auth');
    expect(classifyLinkError(new Error('unable to verify the first certificate'))).toBe('auth');
  });

  it('a network fault is retried with backoff', () => {
    expect(classifyLinkError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8883'), { code: 'ECONNREFUSED' }))).toBe('network');
    expect(classifyLinkError(new Error('connack timeout'))).toBe('network');
    expect(classifyLinkError(null)).toBe('network');
  });

  it('a subscription refused over MQTT 3.1.1 (return code 0x80) is a refusal, not a network fault', () => {
    // mqtt.js reports a failed SUBACK as "Subscribe error" with the granted code.
    expect(classifyLinkError(withCode(0x80, 'Subscribe error: undefined'))).toBe('network');
    expect(classifySubscriptionError(withCode(0x80, 'Subscribe error: undefined'))).toBe('auth');
    expect(classifySubscriptionError(withCode(0x87, 'Subscribe error: Not authorized'))).toBe('auth');
    expect(classifySubscriptionError(new Error('client disconnecting'))).toBe('network');
  });
});
