import { SystemClock, type ClockSyncMode } from '../clock.js';
import { pass, warn, type CheckOutcome } from './check.js';

/** Synchronised by the kiosk's own rule (clock.syncedWhen, read by its SystemClock). */
export function clockCheck(input: { syncedWhen: ClockSyncMode; flagFile?: string }): CheckOutcome {
  const clock = input.flagFile ? new SystemClock(input.syncedWhen, input.flagFile) : new SystemClock(input.syncedWhen);
  const synced = clock.read().synced;
  switch (input.syncedWhen) {
    case 'always':
      return warn('taken as synchronised without checking (clock.syncedWhen: always)', 'on a kiosk with systemd-timesyncd set clock.syncedWhen: timesyncd');
    case 'never':
      return warn('never taken as synchronised (clock.syncedWhen: never): the hub dates the events', 'set clock.syncedWhen: timesyncd once NTP works here');
    default:
      return synced
        ? pass(`synchronised (systemd-timesyncd), ${new Date().toISOString()}`)
        : warn('not synchronised (systemd-timesyncd has not synchronised the clock): events are dated by the hub or flagged unverified', 'check the network and NTP: `timedatectl timesync-status`');
  }
}
