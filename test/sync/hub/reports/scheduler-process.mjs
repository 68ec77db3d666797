// One more hub process for the report scheduler's tests: its own SQLite connections on the shared
// directory and store files (a second process, as `hub run` on another core would be), its own
// mailer. Runs the COMPILED build (`npx tsc -b` first). Usage:
//   node scheduler-process.mjs '<json: {directoryPath, storePath, smtpPort, zone, times: [nowMs...]}>'
// Prints "ready" once open; on each line "go" read from stdin runs the next time's turn and prints
// its counts as one JSON line; exits after the last.
import { createInterface } from 'node:readline';

const build = (path) => new URL(`../../../../build/${path}`, import.meta.url).href;
const { HubDirectory } = await import(build('sync/hub/directory.js'));
const { SqliteHubStore } = await import(build('sync/hub/store.js'));
const { AlertBook } = await import(build('sync/hub/notify/alert-book.js'));
const { createMailer } = await import(build('sync/hub/notify/mailer.js'));
const { ReportScheduler, reportRecipientsOf } = await import(build('sync/hub/reports/scheduler.js'));
const { silentLogger } = await import(build('base/node/logger.js'));

const o = JSON.parse(process.argv[2]);
const directory = await HubDirectory.open({ kind: 'sqlite', path: o.directoryPath });
const store = new SqliteHubStore(o.storePath);
const mailer = createMailer({ host: '127.0.0.1', port: o.smtpPort, secure: false, timeoutMs: 5_000 }, 'SafeGate <hub@hub.example.vn>');
const scheduler = new ReportScheduler({
  directory,
  store,
  zone: o.zone,
  silentAfterMs: 15 * 60_000,
  mailer,
  recipients: reportRecipientsOf(new AlertBook({ sql: directory.sql })),
  consoleUrl: 'https://hub.example.vn',
  summaryTime: '18:00',
  labourListTime: '16:00',
  log: silentLogger,
  leaseMs: 60_000,
});
console.log('ready');
const times = [...o.times];
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'go') continue;
  console.log(JSON.stringify(await scheduler.runDue(times.shift())));
  if (times.length === 0) break;
}
mailer.close();
await store.close();
await directory.close();
process.exit(0);
