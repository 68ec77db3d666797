/**
 * Exponential backoff with jitter, shared by everything that reconnects (the serial scanner, the hub
 * link), so several kiosks on one power circuit or one uplink do not retry in step.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export function backoffDelayMs(attempt: number, b: Backoff, random = Math.random): number {
  const ceiling = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}
