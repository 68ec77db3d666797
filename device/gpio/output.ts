/**
 * One digital output line (relay, light, buzzer). `active` is the logical state ("relay energised");
 * the adapter applies the configured polarity, so `physicalLevel()` is what the pin actually carries.
 */
export interface DigitalOutput {
  readonly name: string;
  readonly activeLow: boolean;
  set(active: boolean): void;
  isActive(): boolean;
  physicalLevel(): 0 | 1;
  /** Drives the line inactive and frees it. Idempotent. */
  release(): void;
}

export interface Transition {
  output: string;
  active: boolean;
  level: 0 | 1;
  atNs: bigint;
}

export type TransitionListener = (t: Transition) => void;
