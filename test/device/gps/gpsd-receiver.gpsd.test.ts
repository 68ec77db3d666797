import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import { GpsdReceiver } from '../../../device/gps/gpsd-receiver.js';
import type { GpsRejected, GpsReport } from '../../../device/gps/report.js';
import { tempDir } from '../../helpers/fixtures.js';
import { gpsReceiverContract } from './gps-receiver.contract.js';
import { GPSD_BINARY, GpsdPeer } from './gpsd-peer.js';

const silent = createLogger({ level: 'silent' });

/** The gpsd adapter against a real gpsd reading NMEA from a socat pty. */
describe.skipIf(!GPSD_BINARY)('a real gpsd (skipped where gpsd is not installed: scripts/setup.sh test installs it)', () => {
  gpsReceiverContract(
    'a real gpsd reading a socat pty',
    async () => {
      const dir = tempDir('safegate-gpsd-');
      const peer = new GpsdPeer(dir.path);
      await peer.start();
      const receiver = new GpsdReceiver({ host: '127.0.0.1', port: peer.port, reconnect: { initialMs: 100, maxMs: 1_000 }, pollMs: 300 }, silent);
      return {
        receiver,
        write: (text) => peer.pty.write(text),
        unplug: () => peer.unplug(),
        plug: () => peer.plug(),
        async close() {
          await receiver.stop();
          await peer.stop();
          dir.remove();
        },
      };
    },
    { seesRawBytes: false },
  );
});

/**
 * gpsd itself never sends what is refused here; a small loopback server stands in for a gpsd that
 * went wrong (or something else listening on its port), to show the adapter refuses it and carries on.
 */
describe('gpsd adapter against a peer that sends garbage', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('refuses lines that are not JSON, reports that do not fit and over-long lines, and still reads the next TPV', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
      s.write('{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/gps0","activated":"2031-05-01T08:30:00.000Z"}]}\n');
      s.write('garbage\n\u0000\u00ff{{{\n');
      s.write('{"class":"TPV","mode":3,"lat":"ten","lon":106}\n');
      s.write('{"class":"TPV","mode":3,"lat":95,"lon":106}\n');
      s.write(`{"class":"SKY","x":"${'a'.repeat(70_000)}"}\n`);
      s.write('[1,2,3]\n{"class":"TPV","device":"/dev/gps0","mode":3,"time":"2031-05-01T08:30:01.000Z","lat":10.5,"lon":106.5}\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const receiver = new GpsdReceiver({ host: '127.0.0.1', port, reconnect: { initialMs: 100, maxMs: 500 } }, silent);
    close = async () => {
      await receiver.stop();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    };
    const rejected: GpsRejected[] = [];
    const reports: GpsReport[] = [];
    receiver.on('rejected', (r) => rejected.push(r));
    receiver.on('report', (r) => reports.push(r));
    receiver.start();
    const deadline = Date.now() + 20_000;
    while (reports.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(reports).toEqual([{ kind: 'fix', position: { lat: 10.5, lon: 106.5 }, utcMs: Date.UTC(2031, 4, 1, 8, 30, 1), atMonoUs: expect.any(Number) }]);
    expect(receiver.state).toBe('ready');
    expect(rejected.map((r) => r.reason)).toEqual(['not-json', 'not-json', 'bad-report', 'bad-report', 'too-long', 'bad-report']);
  }, 60_000);

  it('a port that accepts and closes at once (socket activation with a failing gpsd) is retried with a growing delay, not at the first delay forever', async () => {
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const receiver = new GpsdReceiver({ host: '127.0.0.1', port, reconnect: { initialMs: 50, maxMs: 2_000 } }, silent);
    close = async () => {
      await receiver.stop();
      await new Promise((r) => server.close(r));
    };
    receiver.start();
    await new Promise((r) => setTimeout(r, 3_000));
    // At the first delay (25 to 50 ms) it would have come back 60 to 120 times in 3 s; the delay
    // doubling (50, 100, 200 ... ms, each 50 to 100 % of that) allows at most about 8.
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(connections).toBeLessThanOrEqual(10);
    expect(receiver.state).toBe('disconnected');
  }, 30_000);

  it('gpsd not running: disconnected, retrying, and ready once a gpsd answers on the port', async () => {
    const { freePort } = await import('../../helpers/mosquitto.js');
    const port = await freePort();
    const receiver = new GpsdReceiver({ host: '127.0.0.1', port, reconnect: { initialMs: 100, maxMs: 300 } }, silent);
    const states: string[] = [];
    receiver.on('state', (s) => states.push(s));
    receiver.start();
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
      s.write('{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/gps0","activated":"2031-05-01T08:30:00.000Z"}]}\n');
    });
    close = async () => {
      await receiver.stop();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    };
    let deadline = Date.now() + 20_000;
    while (receiver.state !== 'disconnected' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(receiver.state).toBe('disconnected');
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    deadline = Date.now() + 20_000;
    while (receiver.state !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(states).toEqual(['connecting', 'disconnected', 'ready']);
  }, 60_000);
});
