import { createLogger } from '../../../base/node/logger.js';
import { NmeaSerialReceiver } from '../../../device/gps/nmea-receiver.js';
import { tempDir } from '../../helpers/fixtures.js';
import { PtyPair } from '../../helpers/pty.js';
import { gpsReceiverContract } from './gps-receiver.contract.js';

/** The NMEA receiver on a real pseudo-terminal pair (socat), as a USB GPS mouse or a serial HAT. */
gpsReceiverContract(
  'NMEA on a socat pty',
  async () => {
    const dir = tempDir('safegate-gps-nmea-');
    const pty = new PtyPair(dir.path, 'gps');
    await pty.plug();
    const receiver = new NmeaSerialReceiver(
      { path: pty.devicePath, baudRate: 9600, reconnect: { initialMs: 100, maxMs: 500 }, presenceCheckMs: 200 },
      createLogger({ level: 'silent' }),
    );
    return {
      receiver,
      write: (text) => pty.write(text),
      unplug: () => pty.unplug(),
      plug: () => pty.plug(),
      async close() {
        await receiver.stop();
        await pty.unplug();
        dir.remove();
      },
    };
  },
  { seesRawBytes: true },
);
