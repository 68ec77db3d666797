import { SerialScanner } from '../../../device/scanner/serial-scanner.js';
import { createLogger } from '../../../base/node/logger.js';
import { tempDir } from '../../helpers/fixtures.js';
import { PtyPair } from '../../helpers/pty.js';
import { END, scannerContract, type Token } from './scanner.contract.js';

const MAX = 64;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The serial scanner on a real pseudo-terminal pair (socat), set to a CR suffix as most scanners ship. */
scannerContract('serial scanner on a socat pty', async () => {
  const dir = tempDir('safegate-scanner-');
  const pty = new PtyPair(dir.path);
  await pty.plug();
  const scanner = new SerialScanner({ path: pty.devicePath, baudRate: 9600, suffix: 'CR', maxLineLength: MAX }, createLogger({ level: 'silent' }));
  return {
    scanner,
    maxLength: MAX,
    capabilities: { bytes: true, restart: true, queuesWhileStopped: false },
    settleMs: 150,
    async send(...chunks: Token[][]) {
      for (const chunk of chunks) {
        await pty.write(Buffer.concat(chunk.map((t) => (t === END ? Buffer.from('\r') : typeof t === 'string' ? Buffer.from(t, 'utf8') : Buffer.from(t)))));
        // A pause, so that the next chunk reaches the port in a read of its own.
        await sleep(30);
      }
    },
    async close() {
      await scanner.stop();
      await pty.unplug();
      dir.remove();
    },
  };
});
