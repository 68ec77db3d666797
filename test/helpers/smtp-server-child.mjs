// A real SMTP server (the smtp-server package) for tests, in a process of its own that a test can
// kill to make the mail server "down". Usage: node smtp-server-child.mjs <port> <folder>
// Listens on 127.0.0.1 (port 0: any), no TLS, any AUTH accepted; each message accepted is written to
// <folder>/<time>-<n>.json as {from, to, raw} before the server answers 250, so a message the client
// was told is accepted is always in the folder. Prints one line "listening <port>" when ready.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

const [portArg, folder] = process.argv.slice(2);
let n = 0;
const server = new SMTPServer({
  secure: false,
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  onAuth(_auth, _session, callback) {
    callback(null, { user: 'test' });
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const name = `${Date.now()}-${process.pid}-${n++}.json`;
      const body = JSON.stringify({ from: session.envelope.mailFrom && session.envelope.mailFrom.address, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
      writeFileSync(join(folder, `${name}.tmp`), body);
      renameSync(join(folder, `${name}.tmp`), join(folder, name));
      callback();
    });
  },
  logger: false,
});
server.listen(Number(portArg), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
