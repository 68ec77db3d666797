// A tiny service for test/base/node/sd-notify.test.ts: the compiled ServiceNotifier, as `safegate run` uses it.
// Usage: node sd-notify-child.mjs <blockMs>. Prints "up" once READY=1 was asked for. SIGUSR2 busy-waits
// <blockMs> on the event loop (a hung loop), printing {"blockedFrom":ms} first and {"blockedUntil":ms} after;
// SIGTERM sends STOPPING=1 and exits.
import { ServiceNotifier } from '../../../build/base/node/sd-notify.js';
import { createLogger } from '../../../build/base/node/logger.js';

const blockMs = Number(process.argv[2] ?? 3000);
const service = new ServiceNotifier({ log: createLogger({ level: 'warn' }) });
const keepAlive = setInterval(() => undefined, 2 ** 30);
service.start();
void service.ready('child up');
process.stdout.write('up\n');
process.on('SIGUSR2', () => {
  const from = Date.now();
  process.stdout.write(JSON.stringify({ blockedFrom: from }) + '\n');
  while (Date.now() - from < blockMs) {
    // Busy: no timer, no I/O callback runs until this returns.
  }
  process.stdout.write(JSON.stringify({ blockedUntil: Date.now() }) + '\n');
});
process.on('SIGTERM', async () => {
  await service.stopping('bye');
  await service.stop();
  clearInterval(keepAlive);
});
